package app_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// TestConcurrentAuthorizeOneAssertion: one assertion submitted by 8
// authorizePayment requests at once, each under its own idempotency key,
// authorizes the payment once: one succeeds, the others are refused
// (PASSKEY_INVALID: the challenge was spent; INVALID_STATE: the payment
// was paid already), and the money moves once (both engines; on
// PostgreSQL the challenge is spent without a transaction).
func TestConcurrentAuthorizeOneAssertion(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "100.00")
		seller := e.RegisterVerified(t)
		c := e.create(t, b, seller, "30.00", "one-assertion")
		if c.code() != "" {
			t.Fatalf("createPayment: %+v", c)
		}
		cred, err := b.auth.Assert(c.Options, softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ledgerBefore := ledgerCount(t, e.Env)
		codes := oneWins(t, 8, func(i int) string {
			return e.authorizeWith(t, b, c.Payment.ID, cred, fmt.Sprintf("one-assertion-%d", i)).code()
		}, "PASSKEY_INVALID", "INVALID_STATE")
		t.Logf("%s: %v", d, codes)
		want(t, "status", e.payment(t, b.User, c.Payment.ID).Status, "PAID")
		want(t, "buyer", e.available(t, b.User), "70.00")
		want(t, "journal entries", ledgerCount(t, e.Env)-ledgerBefore, 1)
		// Later, under a new key, the assertion still moves nothing.
		before := e.snap(t, b, seller)
		want(t, "late replay", e.authorizeWith(t, b, c.Payment.ID, cred, "one-assertion-late").code(), "INVALID_STATE")
		want(t, "late replay moved nothing", e.snap(t, b, seller), before)
		verifyOK(t, e.Env)
	})
}

// TestAssertionSpentByFailedMoneyTransaction: an assertion verified for a
// payment whose money transaction then fails (INSUFFICIENT_FUNDS) is spent
// for good: once the buyer has the money it still authorizes nothing
// (PASSKEY_INVALID); a fresh authorization does.
func TestAssertionSpentByFailedMoneyTransaction(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		u, card := funded(t, e.Env, "10.00")
		b := buyer{User: u, auth: e.Authenticator()}
		e.AddPasskey(t, u, b.auth)
		seller := e.RegisterVerified(t)
		c := e.create(t, b, seller, "50.00", "short")
		if c.code() != "" {
			t.Fatalf("createPayment: %+v", c)
		}
		cred, err := b.auth.Assert(c.Options, softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before := e.snap(t, b, seller)
		want(t, "short of money", e.authorizeWith(t, b, c.Payment.ID, cred, "short-1").code(), "INSUFFICIENT_FUNDS")
		want(t, "refusal moved nothing", e.snap(t, b, seller), before)
		if r := topUp(t, e.Env, u, card, "100.00", "short-top-up"); r.code() != "" {
			t.Fatalf("top-up: %s", r.code())
		}
		e.App.Bank.Drain()
		want(t, "buyer after the top-up", e.available(t, u), "110.00")
		before = e.snap(t, b, seller)
		want(t, "the spent assertion", e.authorizeWith(t, b, c.Payment.ID, cred, "short-2").code(), "PASSKEY_INVALID")
		want(t, "the spent assertion moved nothing", e.snap(t, b, seller), before)
		want(t, "status", e.payment(t, u, c.Payment.ID).Status, "CREATED")
		if r := e.authorize(t, b, c.Payment.ID, e.beginAuth(t, b, c.Payment.ID), "short-3"); r.code() != "" {
			t.Fatalf("a fresh authorization: %+v", r)
		}
		want(t, "buyer", e.available(t, u), "60.00")
		verifyOK(t, e.Env)
	})
}

// oneWins runs attempt(0) to attempt(n-1) at once and fails the test
// unless exactly one returns no code and the others one of refusals. It
// returns the codes.
func oneWins(t *testing.T, n int, attempt func(i int) string, refusals ...string) []string {
	t.Helper()
	codes := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			codes[i] = attempt(i)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, code := range codes {
		switch {
		case code == "":
			ok++
		case !slices.Contains(refusals, code):
			t.Fatalf("attempt %d: %s (%v)", i, code, codes)
		}
	}
	if ok != 1 {
		t.Fatalf("%d attempts passed: %v", ok, codes)
	}
	return codes
}
