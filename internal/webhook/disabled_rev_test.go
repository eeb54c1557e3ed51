package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/webhook"
	"danbao/internal/testenv"
	wh "danbao/internal/webhook"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// TestDisabledWebhookNotSentAfterClaim: a step claims deliveries of two
// webhooks and sends them Workers at a time; the second webhook is turned
// off while the first one's send is still waiting. Once setWebhookEnabled
// has returned, the step must not send the turned-off webhook's delivery
// (found in review: it did); the delivery gives its lease back and waits.
func TestDisabledWebhookNotSentAfterClaim(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
		c := e.App.DB.Client
		release := make(chan struct{})
		var slowHit atomic.Bool
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			slowHit.Store(true)
			<-release
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(slow.Close)
		var offHits atomic.Int32
		off := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			offHits.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(off.Close)
		s := wh.New(c, nil, wh.Config{Sandbox: true, Workers: 1, Timeout: 5 * time.Second,
			Schedule: []time.Duration{time.Hour}, Now: func() time.Time { return time.Now().Add(later) }})
		seedDeliveries(t, c, slow.URL+"/h", 1)
		seedDeliveries(t, c, off.URL+"/h", 1)
		target := c.Webhook.Query().Where(webhook.URL(off.URL + "/h")).OnlyX(context.Background())

		done := make(chan error, 1)
		go func() { done <- s.Step(context.Background()) }()
		for !slowHit.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		// The partner turns the webhook off while the step is still sending.
		if _, err := s.SetEnabled(context.Background(), target.PartnerID, target.ID, false); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := offHits.Load(); n != 0 {
			t.Fatalf("%d request(s) sent to a webhook after setWebhookEnabled(false) returned", n)
		}
	})
}

// TestIdleWithOnlyDisabledDueTakesNoTransaction: when the only due
// deliveries are a turned-off webhook's, a step has nothing to do and must
// open no transaction (found in review: the claim's look-before-transaction
// ignored "disabled" and opened a write transaction, on SQLite the one
// writer's, at every poll for as long as the webhook stayed off).
func TestIdleWithOnlyDisabledDueTakesNoTransaction(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
	c := e.App.DB.Client
	seedDeliveries(t, c, "http://127.0.0.1:1/h", 3)
	w := c.Webhook.Query().OnlyX(context.Background())
	var txs atomic.Int32
	drv := dialect.DebugWithContext(entsql.OpenDB(e.App.DB.Dialect, e.App.DB.SQL), func(_ context.Context, v ...any) {
		if strings.Contains(fmt.Sprint(v...), "started") {
			txs.Add(1)
		}
	})
	dc := ent.NewClient(ent.Driver(drv))
	s := wh.New(dc, nil, wh.Config{Sandbox: true, Workers: 1, Timeout: 5 * time.Second,
		Now: func() time.Time { return time.Now().Add(later) }})
	if _, err := s.SetEnabled(context.Background(), w.PartnerID, w.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Step(context.Background()); err != nil { // fans out, position to the head
		t.Fatal(err)
	}
	txs.Store(0)
	for range 3 {
		if err := s.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := txs.Load(); n != 0 {
		t.Fatalf("%d transactions in 3 idle steps (only a turned-off webhook's deliveries due)", n)
	}
}
