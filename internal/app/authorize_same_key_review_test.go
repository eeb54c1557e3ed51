package app_test

import (
	"sync"
	"testing"

	"danbao/internal/softauthn"
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
			c := e.create(t, b, seller, "1.00", "same-key-create-"+string(rune('a'+round)))
			if c.code() != "" {
				t.Fatalf("createPayment: %+v", c)
			}
			cred, err := b.auth.Assert(c.Options, softauthn.AssertOptions{})
			if err != nil {
				t.Fatal(err)
			}
			key := "same-key-" + c.Payment.ID
			res := make([]result, 8)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range res {
				wg.Go(func() { <-start; res[i] = e.authorizeWith(t, b, c.Payment.ID, cred, key) })
			}
			close(start)
			wg.Wait()
			first, other := 0, 0
			var codes []string
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
			if first != 1 || other != 0 {
				t.Errorf("round %d: %d first results, %d other answers, want 1 and 0: %v", round, first, other, codes)
			}
			want(t, "status", e.payment(t, b.User, c.Payment.ID).Status, "PAID")
		}
		want(t, "buyer", e.available(t, b.User), "95.00")
		verifyOK(t, e.Env)
	})
}
