package app_test

import (
	"fmt"
	"sync"
	"testing"

	"danbao/internal/testenv"
)

// TestConcurrentAuthorizeSameKey: the same authorizePayment request (one
// assertion, one idempotency key) sent 8 times at once, as a client
// retrying a slow request does: the payment is authorized once; every
// other answer is that result replayed or IDEMPOTENCY_CONFLICT (reason
// IN_PROGRESS), never a refusal of the passkey, which would tell the
// client its payment failed while it succeeded (found in review: retries
// that read the payment while it was still CREATED tried to spend the
// already spent challenge again and got PASSKEY_INVALID).
func TestConcurrentAuthorizeSameKey(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "100.00")
		seller := e.RegisterVerified(t)
		for round := range 5 {
			authorizeAtOnce(t, round, b, seller, e, e, e, e, e, e, e, e)
		}
		want(t, "buyer", e.available(t, b.User), "95.00")
		verifyOK(t, e.Env)
	})
}

// authorizeAtOnce creates a payment of 1.00 from b to seller through the
// first of envs, then sends one authorizePayment request (one assertion,
// one idempotency key) through each of envs at once, and checks the
// answers: one first result, every other one its replay or
// IDEMPOTENCY_CONFLICT, and the payment PAID.
func authorizeAtOnce(t *testing.T, round int, b buyer, seller *testenv.User, envs ...*escrowEnv) {
	t.Helper()
	c, cred := signedPayment(t, envs[0], b, seller, fmt.Sprintf("at-once-create-%d", round))
	key := "at-once-" + c.Payment.ID
	res := make([]result, len(envs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, e := range envs {
		wg.Go(func() { <-start; res[i] = e.authorizeWith(t, b, c.Payment.ID, cred, key) })
	}
	close(start)
	wg.Wait()
	first, other, codes := sameKeyOutcomes(res)
	if first != 1 || other != 0 {
		t.Errorf("round %d: %d first results, %d other answers, want 1 and 0: %v", round, first, other, codes)
	}
	want(t, "status", envs[0].payment(t, b.User, c.Payment.ID).Status, "PAID")
}

// sameKeyOutcomes sorts the answers to one request sent several times:
// first results, and answers that are neither a first result nor its
// replay nor IDEMPOTENCY_CONFLICT; codes lists every answer's code.
func sameKeyOutcomes(res []result) (first, other int, codes []string) {
	for _, r := range res {
		codes = append(codes, r.code())
		switch {
		case r.code() == "" && !r.Replay:
			first++
		case r.code() == "" && r.Replay, r.code() == "IDEMPOTENCY_CONFLICT":
		default:
			other++
		}
	}
	return first, other, codes
}
