package app_test

import "testing"

// TestAuthorizeRetriedOnAnotherInstance (PostgreSQL): a client retries a
// slow authorizePayment (one assertion, one idempotency key) and the load
// balancer sends the retry to another instance while the first is still
// running. The payment is authorized once, and the retry's answer is that
// result replayed or IDEMPOTENCY_CONFLICT (reason IN_PROGRESS), never
// PASSKEY_INVALID: telling the client its passkey was refused would say
// its payment failed while it succeeded. Whoever finds the challenge spent
// finds the key recorded with it (one transaction), or held.
func TestAuthorizeRetriedOnAnotherInstance(t *testing.T) {
	a, other, b, seller := twoInstances(t)
	for round := range 12 {
		authorizeAtOnce(t, round, b, seller, a, other, a, other)
	}
	want(t, "buyer", a.available(t, b.User), "88.00")
	verifyOK(t, a.Env)
}
