package app_test

import (
	"fmt"
	"testing"

	"danbao/internal/testenv"
)

// TestApproveHeldWithdrawalOfFrozenUser: a user frozen while their
// withdrawal is held: the approval is refused with ACCOUNT_FROZEN, nothing
// is paid out, the item stays HELD and can still be rejected.
func TestApproveHeldWithdrawalOfFrozenUser(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d, defaultRisk...)
		u, card := funded(t, e.Env, "500.00")
		op := e.Operator(t)
		var heldID string
		for i := 0; i < 12 && heldID == ""; i++ {
			r := withdrawWith(t, e.Env, u, card, "10.00", fmt.Sprintf("w%d", i), withdrawalCredential(t, e.Env, u, card, "10.00", "CNY"))
			if r.Status == "HELD" {
				heldID = r.ID
			}
		}
		e.App.Bank.Drain()
		r := e.Do(t, op.AccessToken, `mutation($u: ID!){ freezeAccount(input:{userId:$u, frozen:true, reason:"fraud report"}) { userErrors { code } } }`, map[string]any{"u": u.ID})
		if len(r.Errors) > 0 {
			t.Fatal(r.Codes())
		}
		if heldID == "" {
			t.Fatal("no withdrawal was held: the burst rule did not fire")
		}
		if w := withdrawWith(t, e.Env, u, card, "10.00", "after-freeze", withdrawalCredential(t, e.Env, u, card, "10.00", "CNY")); w.code() != "ACCOUNT_FROZEN" {
			t.Fatalf("withdraw while frozen: %q, want ACCOUNT_FROZEN", w.code())
		}
		items := heldItems(t, e.Env, op)
		res := decideHeld(t, e.Env, op, "approveHeld", items[0].ID, "approve-frozen")
		e.App.Bank.Drain()
		if len(res.UserErrors) != 1 || res.UserErrors[0].Code != "ACCOUNT_FROZEN" {
			t.Fatalf("approve of a frozen user's held withdrawal: %+v, want ACCOUNT_FROZEN", res.UserErrors)
		}
		if st := nodeStatus(t, e.Env, u, heldID); st != "HELD" {
			t.Fatalf("withdrawal after the refused approval: %s, want HELD", st)
		}
		res = decideHeld(t, e.Env, op, "rejectHeld", items[0].ID, "reject-frozen")
		if len(res.UserErrors) != 0 {
			t.Fatalf("reject: %+v", res.UserErrors)
		}
		if st := nodeStatus(t, e.Env, u, heldID); st != "FAILED" {
			t.Fatalf("withdrawal after the rejection: %s, want FAILED", st)
		}
		verifyOK(t, e.Env)
	})
}

// TestApproveHeldPaymentToRestrictedSeller: the seller restricted from
// collecting while a payment is held: the approval is refused with
// ACCOUNT_FROZEN and the payment stays HELD.
func TestApproveHeldPaymentToRestrictedSeller(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d, defaultRisk...)
		b := e.buyer(t, "1000.00")
		seller := e.RegisterVerified(t)
		op := e.Operator(t)
		var heldID string
		for i := 0; i < 12 && heldID == ""; i++ {
			c := e.create(t, b, seller, "10.00", fmt.Sprintf("p%d", i))
			if a := e.authorize(t, b, c.Payment.ID, c.Options, fmt.Sprintf("a%d", i)); a.Payment != nil && a.Payment.Status == "HELD" {
				heldID = c.Payment.ID
			}
		}
		if heldID == "" {
			t.Fatal("no payment was held: the burst rule did not fire")
		}
		r := e.Do(t, op.AccessToken, `mutation($u: ID!){ restrictCollection(input:{userId:$u, restricted:true, reason:"mule"}) { userErrors { code } } }`, map[string]any{"u": seller.ID})
		if len(r.Errors) > 0 {
			t.Fatal(r.Codes())
		}
		items := heldItems(t, e.Env, op)
		res := decideHeld(t, e.Env, op, "approveHeld", items[0].ID, "approve")
		if len(res.UserErrors) != 1 || res.UserErrors[0].Code != "ACCOUNT_FROZEN" {
			t.Fatalf("approve of a held payment to a restricted seller: %+v, want ACCOUNT_FROZEN", res.UserErrors)
		}
		if st := e.payment(t, b.User, heldID).Status; st != "HELD" {
			t.Fatalf("payment after the refused approval: %s, want HELD", st)
		}
		verifyOK(t, e.Env)
	})
}
