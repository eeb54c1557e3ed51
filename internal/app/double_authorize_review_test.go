package app_test

import (
	"fmt"
	"testing"

	"danbao/internal/testenv"
)

// TestConcurrentPasswordFreeAuthorizeOnce: one payment authorized at once
// by many password-free requests, each with its own idempotency key, moves
// its money once: one succeeds, the others are refused (INVALID_STATE or
// CONFLICT), the allowance and the balance count it once, and the ledger
// verifies (both engines).
func TestConcurrentPasswordFreeAuthorizeOnce(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "1000.00")
		seller := e.RegisterVerified(t)
		backdate(t, e.Env, d, "passkeys", b.passkeyID(t, e))
		e.pay(t, b, seller, "10.00")
		if _, ues := setPasswordFree(t, e.Env, b.User, true, "20.00", "500.00"); len(ues) != 0 {
			t.Fatalf("setPasswordFreeAllowance: %+v", ues)
		}
		c := e.create(t, b, seller, "20.00", "twice")
		if c.code() != "" {
			t.Fatalf("createPayment: %+v", c)
		}
		oneWins(t, 12, func(i int) string {
			return e.passwordFreePay(t, b, c.Payment.ID, fmt.Sprintf("twice-%d", i)).code()
		}, "INVALID_STATE", "CONFLICT")
		if pf := mePasswordFree(t, e.Env, b.User); pf.Used != "20.00" {
			t.Fatalf("me.limits.passwordFree: %+v", pf)
		}
		want(t, "buyer", e.available(t, b.User), "970.00")
		want(t, "status", e.payment(t, b.User, c.Payment.ID).Status, "PAID")
		verifyOK(t, e.Env)
	})
}
