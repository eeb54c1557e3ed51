package app_test

import (
	"context"
	"testing"
	"time"

	"danbao/internal/testenv"
)

// TestReviewCompletedIDReusedAtOnce: graphql-transport-ws lets a client
// use an id again once it has completed that operation. A client that
// completes subscription "b" and at once subscribes "b" again, then
// completes the second one too, must get nothing more for "b": neither a
// "complete" for the second subscription before it asked (the client
// would drop the live subscription's events) nor events after its own
// complete (it cannot stop the second subscription, which also keeps one
// of the connection's subscription slots until the socket closes).
func TestReviewCompletedIDReusedAtOnce(t *testing.T) {
	e := newEscrowEnv(t, testenv.SQLite)
	b := e.buyer(t, "500.00")
	seller := e.RegisterVerified(t)
	w := e.Subscriber(t, b.AccessToken)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Complete "b" and subscribe "b" again at once, a few times (the
	// client's complete races the end of the operation on the server).
	for range 30 {
		if err := w.Subscribe(ctx, "b", paymentEventsSub, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if err := w.Send(ctx, testenv.WSMessage{ID: "b", Type: "complete"}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	e.pay(t, b, seller, "10.00")
	for {
		c, stop := context.WithTimeout(ctx, 1500*time.Millisecond)
		m, err := w.Next(c)
		stop()
		if err != nil {
			break // quiet: as it should be
		}
		if m.ID == "b" && m.Type == "next" {
			t.Fatalf("an event for \"b\" after the client completed it: %s", m.Payload)
		}
		t.Logf("%s %s %s", m.Type, m.ID, m.Payload)
	}
}
