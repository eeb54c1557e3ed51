package app_test

import (
	"encoding/json"
	"testing"
	"time"

	"danbao/internal/testenv"
)

// TestBeginAuthorizationAfterAuthorizeBy: once authorizeBy has passed, an
// authorization is refused (INVALID_STATE naming the deadline) even before
// the scheduler closes the payment. beginPaymentAuthorization must refuse
// as well, and authorizePayment must refuse before it spends the buyer's
// passkey assertion: otherwise the app asks the buyer for a biometric
// ceremony that can only fail, and the payment's audit trail records an
// AUTHORIZATION_FAILED for it.
func TestBeginAuthorizationAfterAuthorizeBy(t *testing.T) {
	e := newEscrowEnv(t, testenv.SQLite)
	b := e.buyer(t, "500.00")
	seller := e.RegisterVerified(t)
	c := e.create(t, b, seller, "40.00", "late-begin")
	e.clock.Advance(31 * time.Minute)

	resp := e.Do(t, b.AccessToken, `mutation($id: ID!){ beginPaymentAuthorization(input:{paymentId:$id}) { options userErrors { code extensions } } }`,
		map[string]any{"id": c.Payment.ID})
	var out struct {
		BeginPaymentAuthorization struct {
			Options    json.RawMessage
			UserErrors []userError
		}
	}
	resp.Decode(t, &out)
	if ue := out.BeginPaymentAuthorization.UserErrors; len(ue) != 1 || ue[0].Code != "INVALID_STATE" {
		t.Errorf("beginPaymentAuthorization after authorizeBy: got options (%d bytes), userErrors %+v; want INVALID_STATE (the authorization can only be refused)",
			len(out.BeginPaymentAuthorization.Options), ue)
	}
	if len(out.BeginPaymentAuthorization.Options) == 0 || string(out.BeginPaymentAuthorization.Options) == "null" {
		return
	}
	// The buyer went through the ceremony: the assertion is spent and
	// recorded as a failed authorization before the deadline refuses it.
	if r := e.authorize(t, b, c.Payment.ID, out.BeginPaymentAuthorization.Options, "late-auth"); r.code() != "INVALID_STATE" {
		t.Fatalf("authorizePayment after authorizeBy: %q", r.code())
	}
	var trail struct {
		Payment struct {
			Events struct {
				Edges []struct{ Node struct{ Type string } }
			}
		}
	}
	e.Do(t, b.AccessToken, `query($id: ID!){ payment(id:$id) { events { edges { node { type } } } } }`,
		map[string]any{"id": c.Payment.ID}).Decode(t, &trail)
	for _, ed := range trail.Payment.Events.Edges {
		if ed.Node.Type == "AUTHORIZATION_FAILED" {
			t.Errorf("an authorization refused for its passed deadline spent the passkey assertion first (AUTHORIZATION_FAILED in the audit trail)")
		}
	}
}
