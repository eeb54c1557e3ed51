package passkey_test

import (
	"encoding/json"
	"strings"
	"testing"

	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// TestNicknameCountsCharacters: a 22-character Chinese nickname (66 bytes)
// is within the 64-character limit and is stored; 65 characters are
// refused with INVALID_INPUT, never an internal error.
func TestNicknameCountsCharacters(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		for nick, want := range map[string]string{strings.Repeat("华", 22): "", strings.Repeat("华", 65): "INVALID_INPUT"} {
			u := e.Register(t)
			cred, _, err := e.Authenticator().Register(e.BeginPasskeyRegistration(t, u), softauthn.RegisterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := e.Do(t, u.AccessToken, `mutation($in: FinishPasskeyRegistrationInput!) { finishPasskeyRegistration(input: $in) {
				passkey { nickname } userErrors { code } } }`,
				map[string]any{"in": map[string]any{"credential": json.RawMessage(cred), "nickname": nick}})
			var out struct {
				FinishPasskeyRegistration struct {
					Passkey    *struct{ Nickname string }
					UserErrors []struct{ Code string }
				}
			}
			r.Decode(t, &out)
			p := out.FinishPasskeyRegistration
			got := ""
			if len(p.UserErrors) > 0 {
				got = p.UserErrors[0].Code
			}
			if got != want || (want == "" && (p.Passkey == nil || p.Passkey.Nickname != nick)) {
				t.Errorf("nickname of %d characters: code %q, passkey %+v", len([]rune(nick)), got, p.Passkey)
			}
		}
	})
}
