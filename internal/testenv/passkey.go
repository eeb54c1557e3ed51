package testenv

import (
	"encoding/json"
	"testing"

	"danbao/internal/softauthn"
)

// Authenticator returns a software passkey authenticator whose browser
// stands at the instance's origin.
func (e *Env) Authenticator() *softauthn.Authenticator {
	a := softauthn.New()
	a.Origin = e.Origin
	return a
}

// UserError is one entry of a payload's userErrors.
type UserError struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Field   []string `json:"field"`
}

// BeginPasskeyRegistration asks for registration options as u.
func (e *Env) BeginPasskeyRegistration(t testing.TB, u *User) json.RawMessage {
	t.Helper()
	var out struct {
		BeginPasskeyRegistration struct {
			Options    json.RawMessage
			UserErrors []UserError
		}
	}
	e.Do(t, u.AccessToken, `mutation { beginPasskeyRegistration { options userErrors { code message field } } }`, nil).Decode(t, &out)
	if ues := out.BeginPasskeyRegistration.UserErrors; len(ues) > 0 {
		t.Fatalf("beginPasskeyRegistration: %+v", ues)
	}
	return out.BeginPasskeyRegistration.Options
}

// FinishPasskeyRegistration sends a registration response as u and returns
// the new passkey's ID ("" when refused) and the userErrors.
func (e *Env) FinishPasskeyRegistration(t testing.TB, u *User, credential json.RawMessage, nickname string) (string, []UserError) {
	t.Helper()
	var out struct {
		FinishPasskeyRegistration struct {
			Passkey    *struct{ ID string }
			UserErrors []UserError
		}
	}
	e.Do(t, u.AccessToken, `mutation($in: FinishPasskeyRegistrationInput!) { finishPasskeyRegistration(input: $in) {
		passkey { id } userErrors { code message field } } }`,
		map[string]any{"in": map[string]any{"credential": credential, "nickname": nickname}}).Decode(t, &out)
	p := out.FinishPasskeyRegistration
	if p.Passkey == nil {
		return "", p.UserErrors
	}
	return p.Passkey.ID, p.UserErrors
}

// AddPasskey registers a passkey for u on a through the API and returns its
// ID, failing the test on any refusal.
func (e *Env) AddPasskey(t testing.TB, u *User, a *softauthn.Authenticator) string {
	t.Helper()
	cred, _, err := a.Register(e.BeginPasskeyRegistration(t, u), softauthn.RegisterOptions{})
	if err != nil {
		t.Fatalf("softauthn register: %v", err)
	}
	id, ues := e.FinishPasskeyRegistration(t, u, cred, "test passkey")
	if id == "" || len(ues) > 0 {
		t.Fatalf("finishPasskeyRegistration: %+v", ues)
	}
	return id
}

// BeginPasskeyLogin asks for sign-in options (signed out).
func (e *Env) BeginPasskeyLogin(t testing.TB) json.RawMessage {
	t.Helper()
	var out struct {
		BeginPasskeyLogin struct {
			Options    json.RawMessage
			UserErrors []UserError
		}
	}
	e.Do(t, "", `mutation { beginPasskeyLogin { options userErrors { code message } } }`, nil).Decode(t, &out)
	if ues := out.BeginPasskeyLogin.UserErrors; len(ues) > 0 {
		t.Fatalf("beginPasskeyLogin: %+v", ues)
	}
	return out.BeginPasskeyLogin.Options
}

// PasskeyLogin is the result of finishPasskeyLogin.
type PasskeyLogin struct {
	AccessToken  string
	RefreshToken string
	UserID       string
	UserErrors   []UserError
}

// FinishPasskeyLogin sends an assertion (signed out).
func (e *Env) FinishPasskeyLogin(t testing.TB, credential json.RawMessage) PasskeyLogin {
	t.Helper()
	var out struct {
		FinishPasskeyLogin struct {
			AccessToken, RefreshToken *string
			User                      *struct{ ID string }
			UserErrors                []UserError
		}
	}
	e.Do(t, "", `mutation($in: FinishPasskeyLoginInput!) { finishPasskeyLogin(input: $in) {
		accessToken refreshToken user { id } userErrors { code message field } } }`,
		map[string]any{"in": map[string]any{"credential": credential}}).Decode(t, &out)
	p := out.FinishPasskeyLogin
	r := PasskeyLogin{UserErrors: p.UserErrors}
	if p.AccessToken != nil && p.RefreshToken != nil && p.User != nil {
		r.AccessToken, r.RefreshToken, r.UserID = *p.AccessToken, *p.RefreshToken, p.User.ID
	}
	return r
}
