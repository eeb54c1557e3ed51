package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"danbao/internal/testenv"
	"danbao/internal/webhook"
)

// TestStepDoesNotWaitForAnotherEndpointsBacklog: one partner's endpoint
// never answers (each attempt waits for the timeout) and has a backlog;
// another partner's delivery that becomes due while a step is sending the
// backlog must go out within about one timeout. Claims take the webhooks in
// turn, but (found in review) a step filled its whole claim (4 x Workers)
// with the slow endpoint's backlog and waited for every send before the
// next claim, so the healthy delivery waited 4 x timeout (40 s with the
// defaults) at every step for as long as the slow endpoint stayed down. A
// claim now takes at most Workers deliveries of one webhook.
func TestStepDoesNotWaitForAnotherEndpointsBacklog(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
	c := e.App.DB.Client
	stop := make(chan struct{})
	var hung atomic.Int64
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung.Add(1)
		select {
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

	const timeout = time.Second
	s := webhook.New(c, nil, webhook.Config{Sandbox: true, Workers: 4, Timeout: timeout,
		Schedule: []time.Duration{time.Hour}, Now: func() time.Time { return time.Now().Add(later) }})
	seedDeliveries(t, c, hang.URL+"/h", 40)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // as Run does: one step after another
		for ctx.Err() == nil {
			_ = s.Step(ctx)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for hung.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	seedDeliveries(t, c, healthy.URL+"/h", 1)
	for healthyAt.Load() == 0 && time.Since(start) < 20*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if healthyAt.Load() == 0 {
		t.Fatal("the healthy delivery was never sent")
	}
	if d := time.Unix(0, healthyAt.Load()).Sub(start); d > 3*timeout {
		t.Fatalf("the healthy endpoint's delivery waited %v (timeout %v) behind another endpoint's backlog", d.Round(100*time.Millisecond), timeout)
	}
}
