package app_test

import (
	"slices"
	"testing"

	"danbao/internal/testenv"
)

// TestRotatedPartnerSecretEndsItsTokens: an operator rotates a partner
// app's secret because it leaked. Whoever exchanged the leaked secret
// before the rotation holds an access token that must not go on acting for
// the app: registering a webhook with it would keep the holder receiving
// every event of the partner's payments, and it could go on creating
// payments for connected sellers. Like a user's token of an ended session,
// it may still read until it expires, but every mutation refuses it
// (UNAUTHENTICATED, reason SESSION_REVOKED); a token taken with the new
// secret works at once (found in review: the old token registered a
// webhook).
func TestRotatedPartnerSecretEndsItsTokens(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		op := e.Operator(t)
		c := createPartner(t, e, op)
		stolen := partnerToken(t, e, c)

		var rot struct {
			RotatePartnerAppSecret struct{ ClientSecret string }
		}
		e.Do(t, op.AccessToken, `mutation($id: ID!){ rotatePartnerAppSecret(input:{id:$id}){ clientSecret } }`,
			map[string]any{"id": c.ID}).Decode(t, &rot)

		const register = `mutation($in: RegisterWebhookInput!){ registerWebhook(input:$in){ webhook { id } userErrors { code } } }`
		in := map[string]any{"in": map[string]any{"url": "https://93.184.215.14/exfiltrate", "eventTypes": []string{"payment.*"}}}
		r := e.Do(t, stolen, register, in)
		if !slices.Equal(r.Codes(), []string{"UNAUTHENTICATED"}) || r.Errors[0].Extensions["reason"] != "SESSION_REVOKED" {
			t.Errorf("registerWebhook with a token of the rotated secret: %v %v %s", r.Codes(), r.Errors, r.Data)
		}
		c.Secret = rot.RotatePartnerAppSecret.ClientSecret
		fresh := partnerToken(t, e, c)
		if r := e.Do(t, fresh, register, in); len(r.Errors) > 0 {
			t.Errorf("registerWebhook with a token of the new secret: %v", r.Codes())
		}
		// Rotated again: the token of the second secret ends too.
		e.Do(t, op.AccessToken, `mutation($id: ID!){ rotatePartnerAppSecret(input:{id:$id}){ clientSecret } }`,
			map[string]any{"id": c.ID}).Decode(t, &rot)
		if r := e.Do(t, fresh, register, in); !slices.Equal(r.Codes(), []string{"UNAUTHENTICATED"}) {
			t.Errorf("registerWebhook after a second rotation: %v", r.Codes())
		}
	})
}
