package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"danbao/ent/refreshtoken"
	"danbao/ent/schema/pulid"
	"danbao/internal/app"
	"danbao/internal/config"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON the
// tests look at.
type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge              string `json:"challenge"`
	Timeout                int    `json:"timeout"`
	AuthenticatorSelection struct {
		ResidentKey        string `json:"residentKey"`
		RequireResidentKey bool   `json:"requireResidentKey"`
		UserVerification   string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	Attestation        string `json:"attestation"`
	ExcludeCredentials []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"excludeCredentials"`
	PubKeyCredParams []struct {
		Alg int `json:"alg"`
	} `json:"pubKeyCredParams"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON the
// tests look at.
type requestOptions struct {
	Challenge        string `json:"challenge"`
	Timeout          int    `json:"timeout"`
	RPID             string `json:"rpId"`
	UserVerification string `json:"userVerification"`
	AllowCredentials []struct {
		ID string `json:"id"`
	} `json:"allowCredentials"`
}

func decodeJSON[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// keysOf returns the top-level members of a JSON object.
func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	m := decodeJSON[map[string]json.RawMessage](t, raw)
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func codes(ues []testenv.UserError) []string {
	var out []string
	for _, u := range ues {
		out = append(out, u.Code)
	}
	return out
}

// passkeyState is what a refused ceremony must leave unchanged.
type passkeyState struct {
	SignCount      int64
	LastUsedAt     *time.Time
	CloneSuspected bool
	RevokedAt      *time.Time
}

func stateOf(t *testing.T, e *testenv.Env, id string) passkeyState {
	t.Helper()
	p, err := e.App.DB.Client.Passkey.Get(context.Background(), pulid.ID(id))
	if err != nil {
		t.Fatal(err)
	}
	return passkeyState{p.SignCount, p.LastUsedAt, p.CloneSuspected, p.RevokedAt}
}

func countRefreshTokens(t *testing.T, e *testenv.Env, userID string) int {
	t.Helper()
	n, err := e.App.DB.Client.RefreshToken.Query().Where(refreshtoken.UserID(pulid.ID(userID))).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func countPasskeys(t *testing.T, e *testenv.Env) int {
	t.Helper()
	n, err := e.App.DB.Client.Passkey.Query().Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

const passkeysQuery = `query($rev: Boolean) { me { passkeys(includeRevoked: $rev) { totalCount edges { node {
	id nickname createdAt lastUsedAt revokedAt backupEligible backedUp transports signCount cloneSuspected userVerified authenticatorAttachment } } } } }`

type passkeyNode struct {
	ID, Nickname            string
	CreatedAt               time.Time
	LastUsedAt, RevokedAt   *time.Time
	BackupEligible          bool
	BackedUp                bool
	Transports              []string
	SignCount               int64
	CloneSuspected          bool
	UserVerified            bool
	AuthenticatorAttachment string
}

func listPasskeys(t *testing.T, e *testenv.Env, u *testenv.User, includeRevoked bool) (int, []passkeyNode) {
	t.Helper()
	var out struct {
		Me struct {
			Passkeys struct {
				TotalCount int
				Edges      []struct{ Node passkeyNode }
			}
		}
	}
	e.Do(t, u.AccessToken, passkeysQuery, map[string]any{"rev": includeRevoked}).Decode(t, &out)
	var nodes []passkeyNode
	for _, ed := range out.Me.Passkeys.Edges {
		nodes = append(nodes, ed.Node)
	}
	return out.Me.Passkeys.TotalCount, nodes
}

// TestPasskeyLifecycle registers, lists, signs in with and revokes a
// passkey through the GraphQL API, checking the options JSON on the way.
func TestPasskeyLifecycle(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		a := e.Authenticator()

		// Registration options: the bare PublicKeyCredentialCreationOptionsJSON.
		opts := e.BeginPasskeyRegistration(t, u)
		if got := keysOf(t, opts); slices.Contains(got, "publicKey") || !slices.Contains(got, "challenge") {
			t.Fatalf("creation options members %v: want the bare options object", got)
		}
		co := decodeJSON[creationOptions](t, opts)
		if co.RP.ID != "localhost" || co.RP.Name != "danbao" || co.User.ID == "" || co.User.Name != u.Phone || co.User.DisplayName != "Test User" {
			t.Fatalf("rp %+v user %+v", co.RP, co.User)
		}
		if sel := co.AuthenticatorSelection; sel.ResidentKey != "required" || !sel.RequireResidentKey || sel.UserVerification != "required" {
			t.Fatalf("authenticatorSelection %+v", sel)
		}
		if co.Timeout != 300000 || co.Attestation != "none" || len(co.ExcludeCredentials) != 0 || len(co.PubKeyCredParams) == 0 {
			t.Fatalf("timeout %d attestation %q exclude %v params %v", co.Timeout, co.Attestation, co.ExcludeCredentials, co.PubKeyCredParams)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(co.User.ID); err != nil || string(raw) == u.ID {
			t.Fatalf("user.id %q must be an opaque base64url handle, not the user ID (%v)", co.User.ID, err)
		}

		cred, sc, err := a.Register(opts, softauthn.RegisterOptions{BackupEligible: true, BackupState: true})
		if err != nil {
			t.Fatal(err)
		}
		pkID, ues := e.FinishPasskeyRegistration(t, u, cred, "  Pixel 9  ")
		if pkID == "" || len(ues) > 0 {
			t.Fatalf("finishPasskeyRegistration: %+v", ues)
		}

		// Listed, with what the authenticator said.
		n, nodes := listPasskeys(t, e, u, false)
		if n != 1 || len(nodes) != 1 {
			t.Fatalf("me.passkeys: %d %v", n, nodes)
		}
		pk := nodes[0]
		if pk.ID != pkID || pk.Nickname != "Pixel 9" || !pk.BackupEligible || !pk.BackedUp || pk.SignCount != 0 ||
			!slices.Equal(pk.Transports, []string{"internal", "hybrid"}) || pk.CloneSuspected || !pk.UserVerified ||
			pk.LastUsedAt != nil || pk.RevokedAt != nil || pk.AuthenticatorAttachment != "platform" {
			t.Fatalf("passkey %+v", pk)
		}

		// The next registration excludes it.
		co = decodeJSON[creationOptions](t, e.BeginPasskeyRegistration(t, u))
		if len(co.ExcludeCredentials) != 1 || co.ExcludeCredentials[0].ID != b64(sc.ID) || co.ExcludeCredentials[0].Type != "public-key" {
			t.Fatalf("excludeCredentials %+v, want the registered credential", co.ExcludeCredentials)
		}

		// node(id:) shows it to its owner only.
		var node struct {
			Node *struct{ ID, Nickname string }
		}
		e.Do(t, u.AccessToken, `query($id: ID!) { node(id: $id) { id ... on Passkey { nickname } } }`, map[string]any{"id": pkID}).Decode(t, &node)
		if node.Node == nil || node.Node.ID != pkID {
			t.Fatalf("node(passkey) for its owner: %+v", node.Node)
		}
		other := e.Register(t)
		r := e.Do(t, other.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": pkID})
		if got := r.Codes(); len(got) != 1 || got[0] != "NOT_FOUND" {
			t.Fatalf("node(passkey) for another user: codes %v", got)
		}

		// Sign-in options: discoverable, no allow list, UV required.
		lo := e.BeginPasskeyLogin(t)
		ro := decodeJSON[requestOptions](t, lo)
		if ro.RPID != "localhost" || ro.UserVerification != "required" || len(ro.AllowCredentials) != 0 || ro.Timeout != 300000 || ro.Challenge == "" {
			t.Fatalf("request options %s", lo)
		}
		assertion, err := a.Assert(lo, softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		login := e.FinishPasskeyLogin(t, assertion)
		if len(login.UserErrors) > 0 || login.UserID != u.ID || login.AccessToken == "" || login.RefreshToken == "" {
			t.Fatalf("finishPasskeyLogin: %+v", login)
		}
		// The same AuthPayload as a password sign-in: the tokens work.
		var me struct{ Me struct{ ID string } }
		e.Do(t, login.AccessToken, `{ me { id } }`, nil).Decode(t, &me)
		if me.Me.ID != u.ID {
			t.Fatalf("me with the passkey session: %q", me.Me.ID)
		}
		var refreshed struct{ RefreshToken struct{ AccessToken string } }
		e.Do(t, "", `mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken } }`,
			map[string]any{"t": login.RefreshToken}).Decode(t, &refreshed)
		if refreshed.RefreshToken.AccessToken == "" {
			t.Fatal("the passkey session's refresh token does not work")
		}
		// Counter, flags and last use written back.
		_, nodes = listPasskeys(t, e, u, false)
		if nodes[0].SignCount != 1 || nodes[0].LastUsedAt == nil || !nodes[0].BackedUp {
			t.Fatalf("after sign-in: %+v", nodes[0])
		}

		// Another user cannot revoke it.
		var rv struct {
			RevokePasskey struct {
				Passkey    *struct{ ID string }
				UserErrors []testenv.UserError
			}
		}
		const revoke = `mutation($id: ID!) { revokePasskey(input: {id: $id}) { passkey { id revokedAt } userErrors { code message field } } }`
		e.Do(t, other.AccessToken, revoke, map[string]any{"id": pkID}).Decode(t, &rv)
		if got := codes(rv.RevokePasskey.UserErrors); !slices.Equal(got, []string{"NOT_FOUND"}) || rv.RevokePasskey.Passkey != nil {
			t.Fatalf("revoking another user's passkey: %v", got)
		}
		if stateOf(t, e, pkID).RevokedAt != nil {
			t.Fatal("another user revoked the passkey")
		}
		// Its owner can; revoking again is harmless.
		for range 2 {
			e.Do(t, u.AccessToken, revoke, map[string]any{"id": pkID}).Decode(t, &rv)
			if len(rv.RevokePasskey.UserErrors) > 0 || rv.RevokePasskey.Passkey == nil || rv.RevokePasskey.Passkey.ID != pkID {
				t.Fatalf("revokePasskey: %+v", rv.RevokePasskey)
			}
		}
		if n, _ := listPasskeys(t, e, u, false); n != 0 {
			t.Fatalf("me.passkeys lists %d after revocation", n)
		}
		if n, nodes := listPasskeys(t, e, u, true); n != 1 || nodes[0].RevokedAt == nil {
			t.Fatalf("me.passkeys(includeRevoked) %d %+v", n, nodes)
		}

		// A revoked passkey no longer signs in, and that changes nothing.
		before, tokens := stateOf(t, e, pkID), countRefreshTokens(t, e, u.ID)
		assertion, err = a.Assert(e.BeginPasskeyLogin(t), softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := codes(e.FinishPasskeyLogin(t, assertion).UserErrors); !slices.Equal(got, []string{"PASSKEY_REVOKED"}) {
			t.Fatalf("sign-in with a revoked passkey: %v", got)
		}
		if after := stateOf(t, e, pkID); after.SignCount != before.SignCount || !after.LastUsedAt.Equal(*before.LastUsedAt) {
			t.Fatalf("refused sign-in changed the passkey: %+v -> %+v", before, after)
		}
		if countRefreshTokens(t, e, u.ID) != tokens {
			t.Fatal("refused sign-in issued a session")
		}
		// Revoked passkeys are not excluded: the device may register anew.
		co = decodeJSON[creationOptions](t, e.BeginPasskeyRegistration(t, u))
		if len(co.ExcludeCredentials) != 0 {
			t.Fatalf("excludeCredentials %+v lists a revoked passkey", co.ExcludeCredentials)
		}
	})
}

// TestPasskeyMutationsNeedSignIn: the registration and revocation
// mutations are refused at the top level when signed out; sign-in ones work.
func TestPasskeyMutationsNeedSignIn(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	for _, q := range []string{
		`mutation { beginPasskeyRegistration { options } }`,
		`mutation { finishPasskeyRegistration(input: {credential: {}}) { passkey { id } } }`,
		`mutation { revokePasskey(input: {id: "psk_01JAAAAAAAAAAAAAAAAAAAAAAA"}) { passkey { id } } }`,
	} {
		if got := e.Do(t, "", q, nil).Codes(); !slices.Equal(got, []string{"UNAUTHENTICATED"}) {
			t.Fatalf("%s signed out: codes %v", q, got)
		}
	}
	if r := e.Do(t, "", `mutation { beginPasskeyLogin { options } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("beginPasskeyLogin signed out: %v", r.Codes())
	}
	if n, err := e.App.DB.Client.PasskeySession.Query().Count(context.Background()); err != nil || n != 1 {
		t.Fatalf("%d sessions stored (%v), want the sign-in one", n, err)
	}
}

// TestPasskeyAndroidOrigin: an Android app's origin
// (android:apk-key-hash:...) configured beside the web origins registers
// and signs in; an Android app with another signing key does not.
func TestPasskeyAndroidOrigin(t *testing.T) {
	const app = "android:apk-key-hash:Z4wDHpa8XKtnUVm6iD7WGTUWsU0Xb5HNn0Ymt4J0e4c"
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_WEBAUTHN_ORIGINS", "https://wallet.example,"+app))
	u := e.Register(t)
	phone := softauthn.New()
	phone.Origin = app
	cred, _, err := phone.Register(e.BeginPasskeyRegistration(t, u), softauthn.RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if id, ues := e.FinishPasskeyRegistration(t, u, cred, "Android"); id == "" {
		t.Fatalf("registration from the Android app: %+v", ues)
	}
	assertion, err := phone.Assert(e.BeginPasskeyLogin(t), softauthn.AssertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.FinishPasskeyLogin(t, assertion); len(r.UserErrors) > 0 || r.UserID != u.ID {
		t.Fatalf("sign-in from the Android app: %+v", r)
	}
	assertion, err = phone.Assert(e.BeginPasskeyLogin(t), softauthn.AssertOptions{Origin: "android:apk-key-hash:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(e.FinishPasskeyLogin(t, assertion).UserErrors); !slices.Equal(got, []string{"PASSKEY_INVALID"}) {
		t.Fatalf("sign-in from another app: %v", got)
	}
}

// TestPasskeyConfigurationErrors: a server with an unusable relying party
// configuration does not start.
func TestPasskeyConfigurationErrors(t *testing.T) {
	for name, env := range map[string][2]string{
		"RP ID is an IP address": {"DANBAO_WEBAUTHN_RP_ID", "127.0.0.1"},
		"unknown opaque origin":  {"DANBAO_WEBAUTHN_ORIGINS", "https://wallet.example,myapp:thing"},
		"only an app origin":     {"DANBAO_WEBAUTHN_ORIGINS", "android:apk-key-hash:Z4wDHpa8XKtnUVm6iD7WGTUWsU0Xb5HNn0Ymt4J0e4c"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(func(k string) string {
				switch k {
				case env[0]:
					return env[1]
				case "DANBAO_DATA_DIR":
					return t.TempDir()
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{})
			if err == nil {
				a.Close()
				t.Fatal("the server started")
			}
			// Startup errors have no code; make sure it is this one.
			if !strings.Contains(err.Error(), "passkey relying party") {
				t.Fatalf("failed for another reason: %v", err)
			}
		})
	}
}
