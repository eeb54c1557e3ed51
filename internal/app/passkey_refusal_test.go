package app_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// tamper decodes an AuthenticationResponseJSON or RegistrationResponseJSON
// into a map, lets f change it and encodes it again.
func tamper(t *testing.T, raw json.RawMessage, f func(m map[string]any)) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func challengeOf(t *testing.T, options json.RawMessage) []byte {
	t.Helper()
	var o struct{ Challenge string }
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	b, err := base64URL(o.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPasskeyLoginRefusals presents sign-in responses that are wrong in one
// way each. Every one is refused with a stable code and changes nothing: no
// session is issued and the passkey's counter and last use stay. An honest
// sign-in before and after shows the setup itself is sound.
func TestPasskeyLoginRefusals(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		clock := &testenv.Clock{}
		e := testenv.New(t, d, testenv.WithClock(clock.Now))
		u := e.Register(t)
		a := e.Authenticator()
		pkID := e.AddPasskey(t, u, a)

		assert := func(t *testing.T, auth *softauthn.Authenticator, options json.RawMessage, opts softauthn.AssertOptions) json.RawMessage {
			t.Helper()
			cred, err := auth.Assert(options, opts)
			if err != nil {
				t.Fatal(err)
			}
			return cred
		}
		fresh := func(t *testing.T, opts softauthn.AssertOptions) json.RawMessage {
			return assert(t, a, e.BeginPasskeyLogin(t), opts)
		}
		mustLogin := func(t *testing.T) {
			t.Helper()
			if r := e.FinishPasskeyLogin(t, fresh(t, softauthn.AssertOptions{})); len(r.UserErrors) > 0 || r.UserID != u.ID {
				t.Fatalf("honest sign-in refused: %+v", r)
			}
		}

		honest := fresh(t, softauthn.AssertOptions{})
		if r := e.FinishPasskeyLogin(t, honest); len(r.UserErrors) > 0 || r.UserID != u.ID {
			t.Fatalf("honest sign-in refused: %+v", r)
		}

		// A passkey known nowhere: registered by softauthn against options
		// this server never issued.
		stranger := e.Authenticator()
		if _, _, err := stranger.Register([]byte(`{"rp":{"id":"localhost"},"user":{"id":"c3RyYW5nZXI"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`), softauthn.RegisterOptions{}); err != nil {
			t.Fatal(err)
		}
		other := e.Register(t)

		tests := []struct {
			name       string
			credential func(t *testing.T) json.RawMessage
			want       string
		}{
			{"replayed assertion", func(t *testing.T) json.RawMessage { return honest }, "PASSKEY_INVALID"},
			{"wrong origin", func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.AssertOptions{Origin: "http://localhost:1"})
			}, "PASSKEY_INVALID"},
			{"look-alike origin", func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.AssertOptions{Origin: "https://danbao-wallet.example"})
			}, "PASSKEY_INVALID"},
			{"wrong RP ID hash", func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.AssertOptions{RPID: "example.com"})
			}, "PASSKEY_INVALID"},
			{"user verification missing", func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.AssertOptions{OmitUV: true})
			}, "PASSKEY_INVALID"},
			{"user handle missing", func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.AssertOptions{OmitUserHandle: true})
			}, "PASSKEY_INVALID"},
			{"registration client data type", func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.AssertOptions{ClientDataType: "webauthn.create"})
			}, "PASSKEY_INVALID"},
			{"signature by another key", func(t *testing.T) json.RawMessage {
				// The stranger signs, then claims the registered credential ID.
				mine := fresh(t, softauthn.AssertOptions{})
				theirs := assert(t, stranger, e.BeginPasskeyLogin(t), softauthn.AssertOptions{})
				var m struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(mine, &m)
				return tamper(t, theirs, func(v map[string]any) {
					v["id"], v["rawId"] = m.ID, m.ID
					v["response"].(map[string]any)["userHandle"] = respField(t, mine, "userHandle")
				})
			}, "PASSKEY_INVALID"},
			{"unregistered credential", func(t *testing.T) json.RawMessage {
				return assert(t, stranger, e.BeginPasskeyLogin(t), softauthn.AssertOptions{})
			}, "PASSKEY_INVALID"},
			{"challenge never issued", func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.AssertOptions{Challenge: []byte("0123456789abcdef0123456789abcdef")})
			}, "PASSKEY_INVALID"},
			{"registration challenge", func(t *testing.T) json.RawMessage {
				reg := challengeOf(t, e.BeginPasskeyRegistration(t, other))
				return fresh(t, softauthn.AssertOptions{Challenge: reg})
			}, "PASSKEY_INVALID"},
			{"expired challenge", func(t *testing.T) json.RawMessage {
				options := e.BeginPasskeyLogin(t)
				clock.Advance(5*time.Minute + time.Second)
				return assert(t, a, options, softauthn.AssertOptions{})
			}, "CHALLENGE_EXPIRED"},
			{"malformed: not an assertion", func(t *testing.T) json.RawMessage {
				return json.RawMessage(`{"id":"AAAA","type":"public-key"}`)
			}, "INVALID_INPUT"},
			{"malformed: clientDataJSON not JSON", func(t *testing.T) json.RawMessage {
				return tamper(t, fresh(t, softauthn.AssertOptions{}), func(v map[string]any) {
					v["response"].(map[string]any)["clientDataJSON"] = "bm90IGpzb24"
				})
			}, "INVALID_INPUT"},
			{"a registration response", func(t *testing.T) json.RawMessage {
				// toJSON() of a registration has authenticatorData too, so it
				// parses; it answers a registration challenge, not this one.
				cred, _, err := e.Authenticator().Register(e.BeginPasskeyRegistration(t, other), softauthn.RegisterOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return cred
			}, "PASSKEY_INVALID"},
			{"malformed: an array", func(t *testing.T) json.RawMessage { return json.RawMessage(`[1,2]`) }, "INVALID_INPUT"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cred := tt.credential(t)
				before, tokens := stateOf(t, e, pkID), countRefreshTokens(t, e, u.ID)
				r := e.FinishPasskeyLogin(t, cred)
				if got := codes(r.UserErrors); !slices.Equal(got, []string{tt.want}) || r.AccessToken != "" {
					t.Fatalf("codes %v (token issued: %v), want [%s]", got, r.AccessToken != "", tt.want)
				}
				if after := stateOf(t, e, pkID); after.SignCount != before.SignCount || !after.LastUsedAt.Equal(*before.LastUsedAt) || after.CloneSuspected {
					t.Fatalf("refusal changed the passkey: %+v -> %+v", before, after)
				}
				if countRefreshTokens(t, e, u.ID) != tokens {
					t.Fatal("refusal issued a session")
				}
				// Whatever was refused, the same response is refused again
				// (a challenge it carried is spent).
				if again := codes(e.FinishPasskeyLogin(t, cred).UserErrors); len(again) != 1 {
					t.Fatalf("second presentation: %v", again)
				}
			})
		}
		mustLogin(t)
	})
}

// TestPasskeyRefusalSpendsChallenge: a refused response spends its
// challenge, so the honest response to it then fails too; a malformed one
// spends nothing.
func TestPasskeyRefusalSpendsChallenge(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		a := e.Authenticator()
		e.AddPasskey(t, u, a)

		options := e.BeginPasskeyLogin(t)
		bad, err := a.Assert(options, softauthn.AssertOptions{Origin: "http://localhost:1"})
		if err != nil {
			t.Fatal(err)
		}
		good, err := a.Assert(options, softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := codes(e.FinishPasskeyLogin(t, bad).UserErrors); !slices.Equal(got, []string{"PASSKEY_INVALID"}) {
			t.Fatalf("wrong origin: %v", got)
		}
		if got := codes(e.FinishPasskeyLogin(t, good).UserErrors); !slices.Equal(got, []string{"PASSKEY_INVALID"}) {
			t.Fatalf("honest response after a refusal of its challenge: %v, want PASSKEY_INVALID", got)
		}

		options = e.BeginPasskeyLogin(t)
		good, err = a.Assert(options, softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		malformed := tamper(t, good, func(v map[string]any) { v["response"].(map[string]any)["signature"] = "!!!" })
		if got := codes(e.FinishPasskeyLogin(t, malformed).UserErrors); !slices.Equal(got, []string{"INVALID_INPUT"}) {
			t.Fatalf("malformed: %v", got)
		}
		if r := e.FinishPasskeyLogin(t, good); len(r.UserErrors) > 0 || r.UserID != u.ID {
			t.Fatalf("honest response after a malformed one: %+v", r)
		}
	})
}

// TestPasskeyCloneDetectedAtSignIn: a copy of a passkey whose counter lags
// the original's is refused and marks the passkey; the original still signs
// in (only money movement is blocked, see the payment tests).
func TestPasskeyCloneDetectedAtSignIn(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		original := e.Authenticator()
		pkID := e.AddPasskey(t, u, original)
		clone := e.Authenticator()
		clone.Import(original.Credentials()[0])

		login := func(a *softauthn.Authenticator) testenv.PasskeyLogin {
			cred, err := a.Assert(e.BeginPasskeyLogin(t), softauthn.AssertOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return e.FinishPasskeyLogin(t, cred)
		}
		for range 2 {
			if r := login(original); len(r.UserErrors) > 0 {
				t.Fatalf("original: %+v", r.UserErrors)
			}
		}
		before, tokens := stateOf(t, e, pkID), countRefreshTokens(t, e, u.ID)
		if before.SignCount != 2 || before.CloneSuspected {
			t.Fatalf("before the clone: %+v", before)
		}
		// The clone's counter (1) is behind the stored one (2).
		if r := login(clone); !slices.Equal(codes(r.UserErrors), []string{"PASSKEY_CLONE_SUSPECTED"}) || r.AccessToken != "" {
			t.Fatalf("clone: %+v", r)
		}
		after := stateOf(t, e, pkID)
		if !after.CloneSuspected || after.SignCount != 2 || !after.LastUsedAt.Equal(*before.LastUsedAt) || countRefreshTokens(t, e, u.ID) != tokens {
			t.Fatalf("after the clone: %+v (tokens %d -> %d)", after, tokens, countRefreshTokens(t, e, u.ID))
		}
		_, nodes := listPasskeys(t, e, u, false)
		if len(nodes) != 1 || !nodes[0].CloneSuspected {
			t.Fatalf("me.passkeys does not show the suspicion: %+v", nodes)
		}
		if r := login(original); len(r.UserErrors) > 0 || r.UserID != u.ID {
			t.Fatalf("original after the clone was caught: %+v", r)
		}
		// The next registration does not exclude the suspected passkey, so
		// the device can register afresh.
		if co := decodeJSON[creationOptions](t, e.BeginPasskeyRegistration(t, u)); len(co.ExcludeCredentials) != 0 {
			t.Fatalf("excludeCredentials %+v lists a clone-suspected passkey", co.ExcludeCredentials)
		}
	})
}

// TestPasskeyRegistrationRefusals presents registration responses that are
// wrong in one way each; none adds a passkey.
func TestPasskeyRegistrationRefusals(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		clock := &testenv.Clock{}
		e := testenv.New(t, d, testenv.WithClock(clock.Now))
		u := e.Register(t)
		other := e.Register(t)

		create := func(t *testing.T, options json.RawMessage, opts softauthn.RegisterOptions) json.RawMessage {
			t.Helper()
			cred, _, err := e.Authenticator().Register(options, opts)
			if err != nil {
				t.Fatal(err)
			}
			return cred
		}
		fresh := func(t *testing.T, opts softauthn.RegisterOptions) json.RawMessage {
			return create(t, e.BeginPasskeyRegistration(t, u), opts)
		}

		// A registered credential ID, to register again.
		dupID := []byte("a credential ID registered once")
		if id, ues := e.FinishPasskeyRegistration(t, u, fresh(t, softauthn.RegisterOptions{CredentialID: dupID}), "first"); id == "" {
			t.Fatalf("first registration: %+v", ues)
		}
		var replay json.RawMessage
		{
			replay = fresh(t, softauthn.RegisterOptions{})
			if id, ues := e.FinishPasskeyRegistration(t, u, replay, "second"); id == "" {
				t.Fatalf("second registration: %+v", ues)
			}
		}

		tests := []struct {
			name       string
			as         *testenv.User
			credential func(t *testing.T) json.RawMessage
			nickname   string
			want       string
		}{
			{"replayed registration", u, func(t *testing.T) json.RawMessage { return replay }, "", "PASSKEY_INVALID"},
			{"duplicate credential ID, another user", other, func(t *testing.T) json.RawMessage {
				return create(t, e.BeginPasskeyRegistration(t, other), softauthn.RegisterOptions{CredentialID: dupID})
			}, "", "ALREADY_EXISTS"},
			{"duplicate credential ID, same user", u, func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.RegisterOptions{CredentialID: dupID})
			}, "", "ALREADY_EXISTS"},
			{"wrong origin", u, func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.RegisterOptions{Origin: "http://localhost:1"})
			}, "", "PASSKEY_INVALID"},
			{"wrong RP ID hash", u, func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.RegisterOptions{RPID: "example.com"})
			}, "", "PASSKEY_INVALID"},
			{"user verification missing", u, func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.RegisterOptions{OmitUV: true})
			}, "", "PASSKEY_INVALID"},
			{"backup state without eligibility", u, func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.RegisterOptions{BackupState: true})
			}, "", "PASSKEY_INVALID"},
			{"assertion client data type", u, func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.RegisterOptions{ClientDataType: "webauthn.get"})
			}, "", "PASSKEY_INVALID"},
			{"another user's challenge", u, func(t *testing.T) json.RawMessage {
				return create(t, e.BeginPasskeyRegistration(t, other), softauthn.RegisterOptions{})
			}, "", "PASSKEY_INVALID"},
			{"sign-in challenge", u, func(t *testing.T) json.RawMessage {
				login := challengeOf(t, e.BeginPasskeyLogin(t))
				return fresh(t, softauthn.RegisterOptions{Challenge: login})
			}, "", "PASSKEY_INVALID"},
			{"expired challenge", u, func(t *testing.T) json.RawMessage {
				options := e.BeginPasskeyRegistration(t, u)
				clock.Advance(5*time.Minute + time.Second)
				return create(t, options, softauthn.RegisterOptions{})
			}, "", "CHALLENGE_EXPIRED"},
			{"malformed: not a registration", u, func(t *testing.T) json.RawMessage {
				return json.RawMessage(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`)
			}, "", "INVALID_INPUT"},
			{"malformed: attestationObject not CBOR", u, func(t *testing.T) json.RawMessage {
				return tamper(t, fresh(t, softauthn.RegisterOptions{}), func(v map[string]any) {
					v["response"].(map[string]any)["attestationObject"] = "AAAA"
				})
			}, "", "INVALID_INPUT"},
			{"nickname too long", u, func(t *testing.T) json.RawMessage {
				return fresh(t, softauthn.RegisterOptions{})
			}, strings.Repeat("n", 65), "INVALID_INPUT"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cred := tt.credential(t)
				n := countPasskeys(t, e)
				id, ues := e.FinishPasskeyRegistration(t, tt.as, cred, tt.nickname)
				if got := codes(ues); !slices.Equal(got, []string{tt.want}) || id != "" {
					t.Fatalf("codes %v (passkey %q), want [%s]", got, id, tt.want)
				}
				if countPasskeys(t, e) != n {
					t.Fatal("a refused registration added a passkey")
				}
			})
		}

		// Input errors spend nothing: the response refused for its
		// nickname registers with a good one.
		options := e.BeginPasskeyRegistration(t, u)
		cred := create(t, options, softauthn.RegisterOptions{})
		// (A control character is refused at the edge, before the
		// ceremony is looked at.)
		r := e.Do(t, u.AccessToken, `mutation($in: FinishPasskeyRegistrationInput!) { finishPasskeyRegistration(input: $in) { passkey { id } } }`,
			map[string]any{"in": map[string]any{"credential": cred, "nickname": "bad\nname"}})
		if len(r.Errors) != 1 || r.Errors[0].Code() != "INVALID_INPUT" {
			t.Fatalf("control character in nickname: %v", r.Codes())
		}
		if id, ues := e.FinishPasskeyRegistration(t, u, cred, "good name"); id == "" {
			t.Fatalf("registration after an input error: %+v", ues)
		}
		// A revoked passkey's credential ID stays taken.
		holder := e.Authenticator()
		revoked := e.AddPasskey(t, u, holder)
		e.Do(t, u.AccessToken, `mutation($id: ID!) { revokePasskey(input: {id: $id}) { userErrors { code } } }`, map[string]any{"id": revoked})
		if stateOf(t, e, revoked).RevokedAt == nil {
			t.Fatal("not revoked")
		}
		again := create(t, e.BeginPasskeyRegistration(t, u), softauthn.RegisterOptions{CredentialID: holder.Credentials()[0].ID})
		if _, ues := e.FinishPasskeyRegistration(t, u, again, ""); !slices.Equal(codes(ues), []string{"ALREADY_EXISTS"}) {
			t.Fatalf("registering a revoked credential ID again: %v", codes(ues))
		}
	})
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// respField returns one member of the "response" object of a credential.
func respField(t *testing.T, raw json.RawMessage, name string) any {
	t.Helper()
	var m struct {
		Response map[string]any `json:"response"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m.Response[name]
}
