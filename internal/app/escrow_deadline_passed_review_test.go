package app_test

import (
	"testing"
	"time"

	"danbao/internal/testenv"
)

// TestEscrowActionAfterItsDeadlinePassed: once a payment's running
// deadline has passed, the party whose time ran out can no longer act as if
// it had not, whether or not the scheduler has run yet: the seller cannot
// ship after shipBy (the buyer is owed the refund), nor refuse a refund
// after refundAnswerBy (silence was agreement); the buyer cannot extend the
// receipt deadline or ask for a refund after autoConfirmAt (the seller is
// owed the release), nor authorize after authorizeBy. Each is refused with
// INVALID_STATE and changes nothing; the scheduler then applies the
// deadline as it would have (found in review: each of these succeeded in
// the gap before the scheduler's next run, and the deadline was lost).
func TestEscrowActionAfterItsDeadlinePassed(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)
		refused := func(what string, r result, before moneySnapshot) {
			t.Helper()
			if r.code() != "INVALID_STATE" {
				t.Errorf("%s after its deadline: got %q (status %v), want INVALID_STATE", what, r.code(), r.Payment)
			}
			if after := e.snap(t, b, seller); after != before {
				t.Errorf("%s after its deadline changed money: %+v -> %+v", what, before, after)
			}
		}

		// The seller ships after the shipping window (72 h).
		unshipped := e.pay(t, b, seller, "10.00")
		e.clock.Advance(73 * time.Hour)
		refused("markShipped", e.ship(t, seller, unshipped), e.snap(t, b, seller))
		e.runDue(t)
		want(t, "ship window: refunded", e.payment(t, b.User, unshipped).Status, "REFUNDED")

		// The seller refuses a refund after the answer window (48 h).
		asked := e.pay(t, b, seller, "20.00")
		e.ship(t, seller, asked)
		e.refund(t, b.User, asked, "5.00")
		e.clock.Advance(49 * time.Hour)
		refused("respondToRefund(accept: false)", e.respond(t, seller, asked, false), e.snap(t, b, seller))
		e.runDue(t)
		p := e.payment(t, b.User, asked)
		want(t, "silence was agreement", p.Status+" "+p.RefundedAmount, "SHIPPED 5.00")

		// The buyer extends, or asks for a refund, after autoConfirmAt (240 h).
		shipped := e.pay(t, b, seller, "30.00")
		e.ship(t, seller, shipped)
		e.clock.Advance(241 * time.Hour)
		before := e.snap(t, b, seller)
		refused("extendConfirmDeadline", e.on(t, b.User, "extendConfirmDeadline", "PaymentIdInput", shipped, nil), before)
		refused("requestRefund", e.refund(t, b.User, shipped, "30.00"), before)
		e.runDue(t)
		want(t, "auto-confirmed", e.payment(t, b.User, shipped).Status, "COMPLETED")

		// The buyer authorizes after the authorization window (30 min).
		c := e.create(t, b, seller, "40.00", "late-authorization")
		e.clock.Advance(29 * time.Minute)
		options := e.beginAuth(t, b, c.Payment.ID) // begun in time, answered late
		e.clock.Advance(2 * time.Minute)
		before = e.snap(t, b, seller)
		refused("authorizePayment", e.authorize(t, b, c.Payment.ID, options, "late-auth"), before)
		e.runDue(t)
		want(t, "authorization window: closed", e.payment(t, b.User, c.Payment.ID).Status, "CLOSED")
		verifyOK(t, e.Env)
	})
}
