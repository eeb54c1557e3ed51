package app_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"danbao/internal/testenv"
)

// TestReviewSlowEndpointDoesNotHoldBackOthers: one partner's endpoint
// stops answering (a firewall dropping packets: every attempt waits for
// DANBAO_WEBHOOK_TIMEOUT) while it has a backlog of deliveries. Another
// partner's healthy endpoint must still get its event promptly. Found in
// review: the sender claimed the oldest due deliveries, 4 x Workers at a
// time, and waited for all of them before the next step, so the healthy
// partner waited about backlog x timeout / workers (here 40 x 0.5 s / 4 =
// 5 s; with the default 10 s timeout and a backlog of 1,000, 40 minutes).
// Claims now take the webhooks in turn.
func TestReviewSlowEndpointDoesNotHoldBackOthers(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) { slowEndpoint(t, d) })
}

func slowEndpoint(t *testing.T, d testenv.Dialect) {
	e := testenv.New(t, d, testenv.With("DANBAO_WEBHOOK_TIMEOUT", "500ms"),
		testenv.With("DANBAO_WEBHOOK_RETRY_SCHEDULE", "1h"), testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "50ms"))
	op := e.Operator(t)

	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(stop) })
	var healthyAt atomic.Int64
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		healthyAt.CompareAndSwap(0, time.Now().UnixNano())
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(healthy.Close)

	slow, fast := createPartner(t, e, op), createPartner(t, e, op)
	if _, _, codes := registerWebhook(t, e, partnerToken(t, e, slow), hang.URL+"/h", []string{"payment.*"}); len(codes) > 0 {
		t.Fatal(codes)
	}
	if _, _, codes := registerWebhook(t, e, partnerToken(t, e, fast), healthy.URL+"/h", []string{"payment.*"}); len(codes) > 0 {
		t.Fatal(codes)
	}
	for range 40 {
		partnerEvent(t, e, slow.ID, "payment.paid")
	}
	time.Sleep(200 * time.Millisecond) // the slow partner's backlog is due
	sent := time.Now()
	partnerEvent(t, e, fast.ID, "payment.paid")
	waitUntil(t, 30*time.Second, "the healthy endpoint's delivery", func() bool { return healthyAt.Load() != 0 })
	if d := time.Unix(0, healthyAt.Load()).Sub(sent); d > 2*time.Second {
		t.Fatalf("the healthy partner's event waited %v behind another partner's unresponsive endpoint", d.Round(100*time.Millisecond))
	}
}
