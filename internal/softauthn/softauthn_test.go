package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

const (
	testRPID   = "localhost"
	testOrigin = "http://localhost:8080"
)

// testUser is the smallest webauthn.User: an ID and the credentials the
// relying party has stored for it.
type testUser struct {
	id    []byte
	name  string
	creds []webauthn.Credential
}

func (u *testUser) WebAuthnID() []byte                         { return u.id }
func (u *testUser) WebAuthnName() string                       { return u.name }
func (u *testUser) WebAuthnDisplayName() string                { return u.name }
func (u *testUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// update replaces the stored credential with the one a login returned, as a
// server writes back the sign count and flags.
func (u *testUser) update(c *webauthn.Credential) {
	for i := range u.creds {
		if bytes.Equal(u.creds[i].ID, c.ID) {
			u.creds[i] = *c
		}
	}
}

func newUser(name string) *testUser {
	return &testUser{id: []byte("user-" + name), name: name}
}

func newRP(t *testing.T) *webauthn.WebAuthn {
	t.Helper()
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          testRPID,
		RPDisplayName: "danbao",
		RPOrigins:     []string{testOrigin},
	})
	if err != nil {
		t.Fatal(err)
	}
	return wa
}

func newAuthenticator() *Authenticator {
	a := New()
	a.Origin = testOrigin
	return a
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register runs a whole registration ceremony against the library and
// returns the first error, from softauthn, the parser or the verifier. On
// success the credential is added to the user.
func register(t *testing.T, wa *webauthn.WebAuthn, a *Authenticator, u *testUser, opts RegisterOptions, begin ...webauthn.RegistrationOption) (*Credential, error) {
	t.Helper()
	creation, session, err := wa.BeginRegistration(u, begin...)
	if err != nil {
		t.Fatal(err)
	}
	resp, cred, err := a.Register(mustJSON(t, creation), opts)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(resp))
	if err != nil {
		return cred, err
	}
	c, err := wa.CreateCredential(u, *session, parsed)
	if err != nil {
		return cred, err
	}
	u.creds = append(u.creds, *c)
	return cred, nil
}

// mustRegister registers a credential that must be accepted.
func mustRegister(t *testing.T, wa *webauthn.WebAuthn, a *Authenticator, u *testUser, opts RegisterOptions, begin ...webauthn.RegistrationOption) *Credential {
	t.Helper()
	c, err := register(t, wa, a, u, opts, begin...)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return c
}

// login runs a whole login ceremony for u and writes the result back to u.
// tamper, when not nil, may change the response JSON before it is parsed.
func login(t *testing.T, wa *webauthn.WebAuthn, a *Authenticator, u *testUser, opts AssertOptions, tamper func([]byte) []byte, begin ...webauthn.LoginOption) (*webauthn.Credential, error) {
	t.Helper()
	assertion, session, err := wa.BeginLogin(u, begin...)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Assert(mustJSON(t, assertion), opts)
	if err != nil {
		return nil, err
	}
	if tamper != nil {
		resp = tamper(resp)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(resp))
	if err != nil {
		return nil, err
	}
	c, err := wa.ValidateLogin(u, *session, parsed)
	if err != nil {
		return nil, err
	}
	u.update(c)
	return c, nil
}

// errType returns the go-webauthn error type ("verification_error", ...) of
// err, or "" when err is not a *protocol.Error.
func errType(err error) string {
	if pe, ok := errors.AsType[*protocol.Error](err); ok {
		return pe.Type
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

func TestRegisterAndLogin(t *testing.T) {
	wa := newRP(t)
	a := newAuthenticator()
	u := newUser("alice")
	cred := mustRegister(t, wa, a, u, RegisterOptions{})

	if len(u.creds) != 1 || !bytes.Equal(u.creds[0].ID, cred.ID) {
		t.Fatalf("stored credential ID %x, authenticator has %x", u.creds[0].ID, cred.ID)
	}
	if f := u.creds[0].Flags; !f.UserPresent || !f.UserVerified || f.BackupEligible || f.BackupState {
		t.Fatalf("flags after registration = %+v, want UP UV, no backup", f)
	}
	if !bytes.Equal(cred.UserHandle, u.id) || cred.RPID != testRPID {
		t.Fatalf("credential user handle %q rp %q", cred.UserHandle, cred.RPID)
	}

	last := u.creds[0].Authenticator.SignCount
	for i := range 3 {
		c, err := login(t, wa, a, u, AssertOptions{}, nil, webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		if c.Authenticator.SignCount <= last || c.Authenticator.CloneWarning {
			t.Fatalf("login %d: sign count %d after %d, clone warning %v", i, c.Authenticator.SignCount, last, c.Authenticator.CloneWarning)
		}
		last = c.Authenticator.SignCount
	}
	if got := a.Credentials()[0].SignCount; got != last {
		t.Fatalf("authenticator counter %d, server saw %d", got, last)
	}
}

func TestOptionsWrappedAndBare(t *testing.T) {
	tests := []struct {
		name string
		wrap bool
	}{
		{"wrapped in publicKey", true},
		{"bare options", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wa := newRP(t)
			a := newAuthenticator()
			u := newUser("bob")

			creation, session, err := wa.BeginRegistration(u)
			if err != nil {
				t.Fatal(err)
			}
			var opts any = creation
			if !tt.wrap {
				opts = creation.Response
			}
			resp, _, err := a.Register(mustJSON(t, opts), RegisterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(resp))
			if err != nil {
				t.Fatal(err)
			}
			c, err := wa.CreateCredential(u, *session, parsed)
			if err != nil {
				t.Fatal(err)
			}
			u.creds = append(u.creds, *c)

			assertion, lsession, err := wa.BeginLogin(u)
			if err != nil {
				t.Fatal(err)
			}
			opts = assertion
			if !tt.wrap {
				opts = assertion.Response
			}
			resp, err = a.Assert(mustJSON(t, opts), AssertOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pa, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(resp))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wa.ValidateLogin(u, *lsession, pa); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDiscoverableLogin(t *testing.T) {
	wa := newRP(t)
	a := newAuthenticator()
	alice, bob := newUser("alice"), newUser("bob")
	aliceCred := mustRegister(t, wa, a, alice, RegisterOptions{}, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	bobCred := mustRegister(t, wa, a, bob, RegisterOptions{}, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	users := []*testUser{alice, bob}
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		for _, u := range users {
			if bytes.Equal(u.id, userHandle) {
				return u, nil
			}
		}
		return nil, fmt.Errorf("no user %q", userHandle)
	}

	tests := []struct {
		name     string
		opts     AssertOptions
		wantUser *testUser
		wantCred []byte
		wantErr  bool
	}{
		{"most recent credential by default", AssertOptions{}, bob, bobCred.ID, false},
		{"credential chosen by ID", AssertOptions{CredentialID: aliceCred.ID}, alice, aliceCred.ID, false},
		{"no user handle", AssertOptions{OmitUserHandle: true}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertion, session, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := a.Assert(mustJSON(t, assertion), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(resp))
			if err != nil {
				t.Fatal(err)
			}
			user, cred, err := wa.ValidatePasskeyLogin(handler, *session, parsed)
			if tt.wantErr {
				if err == nil {
					t.Fatal("ValidatePasskeyLogin succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if user != webauthn.User(tt.wantUser) || !bytes.Equal(cred.ID, tt.wantCred) {
				t.Fatalf("logged in %s with %x, want %s with %x", user.WebAuthnName(), cred.ID, tt.wantUser.name, tt.wantCred)
			}
		})
	}
}

func TestRegisterRejected(t *testing.T) {
	uvRequired := webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired})
	tests := []struct {
		name     string
		opts     RegisterOptions
		begin    []webauthn.RegistrationOption
		wantType string // "" means success
	}{
		{"honest", RegisterOptions{}, nil, ""},
		{"honest with UV required", RegisterOptions{}, []webauthn.RegistrationOption{uvRequired}, ""},
		{"missing UV, UV preferred", RegisterOptions{OmitUV: true}, nil, ""},
		{"backup eligible and backed up", RegisterOptions{BackupEligible: true, BackupState: true}, nil, ""},
		{"wrong origin", RegisterOptions{Origin: "https://evil.example"}, nil, "verification_error"},
		{"wrong RP ID hash", RegisterOptions{RPID: "evil.example"}, nil, "verification_error"},
		{"missing UV, UV required", RegisterOptions{OmitUV: true}, []webauthn.RegistrationOption{uvRequired}, "verification_error"},
		{"different challenge", RegisterOptions{Challenge: bytes.Repeat([]byte{7}, 32)}, nil, "verification_error"},
		{"get instead of create", RegisterOptions{ClientDataType: "webauthn.get"}, nil, "verification_error"},
		{"credential type", RegisterOptions{CredentialType: "password"}, nil, "invalid_request"},
		{"backed up but not eligible", RegisterOptions{BackupState: true}, nil, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := register(t, newRP(t), newAuthenticator(), newUser("carol"), tt.opts, tt.begin...)
			switch {
			case tt.wantType == "" && err != nil:
				t.Fatalf("register: %v", err)
			case tt.wantType != "" && errType(err) != tt.wantType:
				t.Fatalf("register error %v (type %q), want type %q", err, errType(err), tt.wantType)
			}
		})
	}
}

func TestLoginRejected(t *testing.T) {
	uvRequired := webauthn.WithUserVerification(protocol.VerificationRequired)
	tamperSignature := func(resp []byte) []byte {
		var r AuthenticationResponseJSON
		if err := json.Unmarshal(resp, &r); err != nil {
			panic(err)
		}
		sig, err := base64.RawURLEncoding.DecodeString(r.Response.Signature)
		if err != nil {
			panic(err)
		}
		sig[len(sig)-1] ^= 0x01 // last byte of s: still valid DER, wrong value
		r.Response.Signature = base64.RawURLEncoding.EncodeToString(sig)
		out, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		return out
	}
	tests := []struct {
		name     string
		opts     AssertOptions
		tamper   func([]byte) []byte
		begin    []webauthn.LoginOption
		wantType string // "" means success
	}{
		{"honest", AssertOptions{}, nil, []webauthn.LoginOption{uvRequired}, ""},
		{"missing UV, UV preferred", AssertOptions{OmitUV: true}, nil, nil, ""},
		{"wrong origin", AssertOptions{Origin: "https://evil.example"}, nil, nil, "verification_error"},
		{"wrong RP ID hash", AssertOptions{RPID: "evil.example"}, nil, nil, "verification_error"},
		{"missing UV, UV required", AssertOptions{OmitUV: true}, nil, []webauthn.LoginOption{uvRequired}, "verification_error"},
		{"different challenge", AssertOptions{Challenge: bytes.Repeat([]byte{7}, 32)}, nil, nil, "verification_error"},
		{"create instead of get", AssertOptions{ClientDataType: "webauthn.create"}, nil, nil, "verification_error"},
		{"tampered signature", AssertOptions{}, tamperSignature, nil, "invalid_signature"},
		{"credential type", AssertOptions{CredentialType: "password"}, nil, nil, "invalid_request"},
		{"backup eligibility changed", AssertOptions{BackupEligible: ptr(true)}, nil, nil, "invalid_request"},
		{"backed up but not eligible", AssertOptions{BackupState: ptr(true)}, nil, nil, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wa := newRP(t)
			a := newAuthenticator()
			u := newUser("dave")
			mustRegister(t, wa, a, u, RegisterOptions{})
			_, err := login(t, wa, a, u, tt.opts, tt.tamper, tt.begin...)
			switch {
			case tt.wantType == "" && err != nil:
				t.Fatalf("login: %v", err)
			case tt.wantType != "" && errType(err) != tt.wantType:
				t.Fatalf("login error %v (type %q), want type %q", err, errType(err), tt.wantType)
			}
		})
	}
}

func TestLoginWithAnotherUsersCredential(t *testing.T) {
	wa := newRP(t)
	a := newAuthenticator()
	alice, mallory := newUser("alice"), newUser("mallory")
	mustRegister(t, wa, a, alice, RegisterOptions{})
	malloryCred := mustRegister(t, wa, a, mallory, RegisterOptions{})

	// Alice's session lists only Alice's credential; answer with Mallory's.
	_, err := login(t, wa, a, alice, AssertOptions{CredentialID: malloryCred.ID}, nil)
	if err == nil {
		t.Fatal("login with another user's credential succeeded")
	}
}

func TestSignCount(t *testing.T) {
	tests := []struct {
		name      string
		forced    *uint32
		wantCount uint32
		wantClone bool
	}{
		{"incremented", nil, 2, false},
		{"forced higher", ptr[uint32](100), 100, false},
		{"regression", ptr[uint32](1), 1, true},
		{"zero", ptr[uint32](0), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wa := newRP(t)
			a := newAuthenticator()
			u := newUser("erin")
			mustRegister(t, wa, a, u, RegisterOptions{})
			if _, err := login(t, wa, a, u, AssertOptions{}, nil); err != nil {
				t.Fatal(err)
			}
			assertion, session, err := wa.BeginLogin(u)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := a.Assert(mustJSON(t, assertion), AssertOptions{SignCount: tt.forced})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(resp))
			if err != nil {
				t.Fatal(err)
			}
			if got := parsed.Response.AuthenticatorData.Counter; got != tt.wantCount {
				t.Fatalf("counter %d, want %d", got, tt.wantCount)
			}
			// The library only flags a regression; refusing it is the server's job.
			c, err := wa.ValidateLogin(u, *session, parsed)
			if err != nil {
				t.Fatal(err)
			}
			if c.Authenticator.CloneWarning != tt.wantClone {
				t.Fatalf("clone warning %v, want %v", c.Authenticator.CloneWarning, tt.wantClone)
			}
			if got := a.Credentials()[0].SignCount; got != tt.wantCount {
				t.Fatalf("stored counter %d, want %d", got, tt.wantCount)
			}
		})
	}
}

func TestImportedCloneIsDetected(t *testing.T) {
	wa := newRP(t)
	original, clone := newAuthenticator(), newAuthenticator()
	u := newUser("frank")
	cred := mustRegister(t, wa, original, u, RegisterOptions{})
	clone.Import(cred)

	for _, a := range []*Authenticator{original, original, original} {
		if c, err := login(t, wa, a, u, AssertOptions{}, nil); err != nil || c.Authenticator.CloneWarning {
			t.Fatalf("original login: %v, clone warning %v", err, c.Authenticator.CloneWarning)
		}
	}
	c, err := login(t, wa, clone, u, AssertOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Authenticator.CloneWarning {
		t.Fatal("clone behind the original was not flagged")
	}
	if original.Credentials()[0].SignCount == clone.Credentials()[0].SignCount {
		t.Fatal("imported credential shares its counter with the original")
	}
}

func TestExcludeCredentials(t *testing.T) {
	tests := []struct {
		name    string
		opts    RegisterOptions
		wantErr error
	}{
		{"refused like a browser", RegisterOptions{}, ErrExcluded},
		{"ignored on request", RegisterOptions{IgnoreExcludeCredentials: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wa := newRP(t)
			a := newAuthenticator()
			u := newUser("grace")
			mustRegister(t, wa, a, u, RegisterOptions{})
			exclude := []protocol.CredentialDescriptor{u.creds[0].Descriptor()}
			_, err := register(t, wa, a, u, tt.opts, webauthn.WithExclusions(exclude))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("register error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestFixedCredentialID(t *testing.T) {
	wa := newRP(t)
	id := []byte("duplicate-credential-id")
	a, b := newAuthenticator(), newAuthenticator()
	alice, bob := newUser("alice"), newUser("bob")
	mustRegister(t, wa, a, alice, RegisterOptions{CredentialID: id})
	// The library accepts the second registration: refusing a known
	// credential ID is the server's job.
	mustRegister(t, wa, b, bob, RegisterOptions{CredentialID: id})
	if !bytes.Equal(alice.creds[0].ID, id) || !bytes.Equal(bob.creds[0].ID, id) {
		t.Fatal("fixed credential ID not used")
	}

	// Within one authenticator the newer credential replaces the older.
	mustRegister(t, wa, a, newUser("carol"), RegisterOptions{CredentialID: id})
	if got := a.Credentials(); len(got) != 1 || !bytes.Equal(got[0].UserHandle, []byte("user-carol")) {
		t.Fatalf("authenticator holds %d credentials", len(got))
	}
}

func TestRegisterOptionErrors(t *testing.T) {
	tests := []struct {
		name    string
		options string
		wantErr error
	}{
		{"not JSON", `{`, ErrInvalidOptions},
		{"no challenge", `{"rp":{"id":"localhost"},"user":{"id":"dQ"}}`, ErrInvalidOptions},
		{"challenge not base64url", `{"rp":{"id":"localhost"},"user":{"id":"dQ"},"challenge":"a+b/"}`, ErrInvalidOptions},
		{"no user id", `{"rp":{"id":"localhost"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`, ErrInvalidOptions},
		{"only RS256", `{"rp":{"id":"localhost"},"user":{"id":"dQ"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","pubKeyCredParams":[{"type":"public-key","alg":-257}]}`, ErrUnsupportedAlgorithm},
		{"no algorithms means defaults", `{"rp":{"id":"localhost"},"user":{"id":"dQ"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`, nil},
		{"padded base64url", `{"publicKey":{"rp":{},"user":{"id":"dQ=="},"challenge":"AAAAAAAAAAAAAAAAAAAAAA=="}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := newAuthenticator().Register([]byte(tt.options), RegisterOptions{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Register error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestAssertOptionErrors(t *testing.T) {
	a := newAuthenticator()
	if _, _, err := a.Register([]byte(`{"rp":{"id":"localhost"},"user":{"id":"dQ"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`), RegisterOptions{CredentialID: []byte{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		options string
		opts    AssertOptions
		wantErr error
	}{
		{"not JSON", `[`, AssertOptions{}, ErrInvalidOptions},
		{"no challenge", `{"rpId":"localhost"}`, AssertOptions{}, ErrInvalidOptions},
		{"unknown RP", `{"rpId":"example.com","challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`, AssertOptions{}, ErrNoCredential},
		{"not in allow list", `{"rpId":"localhost","challenge":"AAAAAAAAAAAAAAAAAAAAAA","allowCredentials":[{"type":"public-key","id":"BAUG"}]}`, AssertOptions{}, ErrNoCredential},
		{"unknown credential ID", `{"rpId":"localhost","challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`, AssertOptions{CredentialID: []byte{9}}, ErrNoCredential},
		{"in allow list", `{"rpId":"localhost","challenge":"AAAAAAAAAAAAAAAAAAAAAA","allowCredentials":[{"type":"public-key","id":"BAUG"},{"type":"public-key","id":"AQID"}]}`, AssertOptions{}, nil},
		{"RP ID from origin", `{"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`, AssertOptions{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Assert([]byte(tt.options), tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Assert error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestRegistrationJSONShape checks the response member by member against what
// PublicKeyCredential.toJSON() produces.
func TestRegistrationJSONShape(t *testing.T) {
	tests := []struct {
		name      string
		opts      RegisterOptions
		begin     []webauthn.RegistrationOption
		wantFlags byte
		wantExt   string
	}{
		{"device bound", RegisterOptions{}, nil, 0x45, `{}`},
		{"synced", RegisterOptions{BackupEligible: true, BackupState: true}, nil, 0x5d, `{}`},
		{"no UV", RegisterOptions{OmitUV: true}, nil, 0x41, `{}`},
		{"credProps", RegisterOptions{}, []webauthn.RegistrationOption{webauthn.WithExtensions(webauthn.WithExtensionCredProps())}, 0x45, `{"credProps":{"rk":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wa := newRP(t)
			a := newAuthenticator()
			u := newUser("heidi")
			creation, session, err := wa.BeginRegistration(u, tt.begin...)
			if err != nil {
				t.Fatal(err)
			}
			resp, cred, err := a.Register(mustJSON(t, creation), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			// The library must accept it, extension results included.
			parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(resp))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wa.CreateCredential(u, *session, parsed); err != nil {
				t.Fatal(err)
			}

			var top map[string]json.RawMessage
			if err := json.Unmarshal(resp, &top); err != nil {
				t.Fatal(err)
			}
			wantKeys := []string{"authenticatorAttachment", "clientExtensionResults", "id", "rawId", "response", "type"}
			if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, wantKeys) {
				t.Fatalf("top-level keys %v, want %v", got, wantKeys)
			}
			var r RegistrationResponseJSON
			if err := json.Unmarshal(resp, &r); err != nil {
				t.Fatal(err)
			}
			id := b64(cred.ID)
			if r.ID != id || r.RawID != id || r.Type != "public-key" || r.AuthenticatorAttachment != "platform" {
				t.Fatalf("id %q rawId %q type %q attachment %q", r.ID, r.RawID, r.Type, r.AuthenticatorAttachment)
			}
			if got := string(top["clientExtensionResults"]); got != tt.wantExt {
				t.Fatalf("clientExtensionResults %s, want %s", got, tt.wantExt)
			}
			if !slices.Equal(r.Response.Transports, []string{"internal", "hybrid"}) || r.Response.PublicKeyAlgorithm != -7 {
				t.Fatalf("transports %v alg %d", r.Response.Transports, r.Response.PublicKeyAlgorithm)
			}
			for name, v := range map[string]string{
				"id": r.ID, "clientDataJSON": r.Response.ClientDataJSON, "authenticatorData": r.Response.AuthenticatorData,
				"publicKey": r.Response.PublicKey, "attestationObject": r.Response.AttestationObject,
			} {
				if strings.ContainsAny(v, "=+/") {
					t.Fatalf("%s is not unpadded base64url: %q", name, v)
				}
			}

			cdj := decode(t, r.Response.ClientDataJSON)
			wantCDJ := `{"type":"webauthn.create","challenge":"` + creation.Response.Challenge.String() + `","origin":"` + testOrigin + `","crossOrigin":false}`
			if string(cdj) != wantCDJ {
				t.Fatalf("clientDataJSON\n got %s\nwant %s", cdj, wantCDJ)
			}

			pub, err := x509.ParsePKIXPublicKey(decode(t, r.Response.PublicKey))
			if err != nil {
				t.Fatal(err)
			}
			if !cred.PrivateKey.PublicKey.Equal(pub.(*ecdsa.PublicKey)) {
				t.Fatal("publicKey is not the credential's key")
			}

			authData := decode(t, r.Response.AuthenticatorData)
			if !bytes.Equal(authData, parsed.Response.AttestationObject.RawAuthData) {
				t.Fatal("authenticatorData differs from the one in attestationObject")
			}
			if authData[32] != tt.wantFlags {
				t.Fatalf("flags %#x, want %#x", authData[32], tt.wantFlags)
			}
			ao := parsed.Response.AttestationObject
			if ao.Format != "none" || len(ao.AttStatement) != 0 || !bytes.Equal(ao.AuthData.AttData.AAGUID, make([]byte, 16)) || ao.AuthData.Counter != 0 {
				t.Fatalf("attestation fmt %q attStmt %v aaguid %x counter %d", ao.Format, ao.AttStatement, ao.AuthData.AttData.AAGUID, ao.AuthData.Counter)
			}
		})
	}
}

func TestAssertionJSONShape(t *testing.T) {
	wa := newRP(t)
	a := newAuthenticator()
	u := newUser("ivan")
	cred := mustRegister(t, wa, a, u, RegisterOptions{})
	assertion, _, err := wa.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Assert(mustJSON(t, assertion), AssertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(resp, &top); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"authenticatorAttachment", "clientExtensionResults", "id", "rawId", "response", "type"}
	if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, wantKeys) {
		t.Fatalf("top-level keys %v, want %v", got, wantKeys)
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(top["response"], &inner); err != nil {
		t.Fatal(err)
	}
	wantInner := []string{"authenticatorData", "clientDataJSON", "signature", "userHandle"}
	if got := slices.Sorted(maps.Keys(inner)); !slices.Equal(got, wantInner) {
		t.Fatalf("response keys %v, want %v", got, wantInner)
	}
	var r AuthenticationResponseJSON
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatal(err)
	}
	if r.ID != b64(cred.ID) || r.Response.UserHandle != b64(u.id) || string(top["clientExtensionResults"]) != "{}" {
		t.Fatalf("id %q userHandle %q extensions %s", r.ID, r.Response.UserHandle, top["clientExtensionResults"])
	}
	wantCDJ := `{"type":"webauthn.get","challenge":"` + assertion.Response.Challenge.String() + `","origin":"` + testOrigin + `","crossOrigin":false}`
	if got := string(decode(t, r.Response.ClientDataJSON)); got != wantCDJ {
		t.Fatalf("clientDataJSON\n got %s\nwant %s", got, wantCDJ)
	}
	if authData := decode(t, r.Response.AuthenticatorData); len(authData) != 37 || authData[32] != 0x05 {
		t.Fatalf("authenticatorData %x", authData)
	}
}

// TestConcurrentAssert checks that concurrent assertions with one credential
// never report the same counter.
func TestConcurrentAssert(t *testing.T) {
	wa := newRP(t)
	a := newAuthenticator()
	u := newUser("judy")
	mustRegister(t, wa, a, u, RegisterOptions{})
	assertion, _, err := wa.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	opts := mustJSON(t, assertion)

	const n = 64
	counters := make([]uint32, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := a.Assert(opts, AssertOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
			if err != nil {
				t.Error(err)
				return
			}
			counters[i] = parsed.Response.AuthenticatorData.Counter
			_ = a.Credentials()
		})
	}
	wg.Wait()
	slices.Sort(counters)
	for i, c := range counters {
		if c != uint32(i+1) {
			t.Fatalf("counters %v, want 1..%d", counters, n)
		}
	}
}

func TestRemove(t *testing.T) {
	a := newAuthenticator()
	_, cred, err := a.Register([]byte(`{"rp":{"id":"localhost"},"user":{"id":"dQ"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`), RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   []byte
		want bool
	}{
		{"held", cred.ID, true},
		{"already removed", cred.ID, false},
		{"never held", []byte{1}, false},
	}
	for _, tt := range tests {
		if got := a.Remove(tt.id); got != tt.want {
			t.Fatalf("%s: Remove = %v, want %v", tt.name, got, tt.want)
		}
	}
	if len(a.Credentials()) != 0 {
		t.Fatal("credential still held")
	}
}

func decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
