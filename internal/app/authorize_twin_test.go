package app_test

import (
	"testing"

	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// TestAuthorizeRetriedOnAnotherInstance (PostgreSQL): a client retries a
// slow authorizePayment (one assertion, one idempotency key) and the load
// balancer sends the retry to another instance while the first is still
// running. The payment is authorized once, and the retry's answer is that
// result replayed or IDEMPOTENCY_CONFLICT (reason IN_PROGRESS), never
// PASSKEY_INVALID: the first request has spent the challenge, and telling
// the client its passkey was refused would say its payment failed while it
// succeeded.
func TestAuthorizeRetriedOnAnotherInstance(t *testing.T) {
	url := testenv.DatabaseURL(t, testenv.Postgres)
	// One origin for both, as behind one load balancer.
	const origin = "https://wallet.example"
	opts := append(sharedKeys(), testenv.With("DATABASE_URL", url), sharedTokenKey(t),
		testenv.With("DANBAO_WEBAUTHN_ORIGINS", origin))
	a := newEscrowEnv(t, testenv.Postgres, opts...)
	other := newEscrowEnv(t, testenv.Postgres, opts...)
	u, _ := funded(t, a.Env, "100.00")
	b := buyer{User: u, auth: softauthn.New()}
	b.auth.Origin = origin
	a.AddPasskey(t, u, b.auth)
	seller := a.RegisterVerified(t)
	for round := range 12 {
		authorizeAtOnce(t, round, b, seller, a, other, a, other)
	}
	want(t, "buyer", a.available(t, b.User), "88.00")
	verifyOK(t, a.Env)
}
