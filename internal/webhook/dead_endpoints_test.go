package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/internal/testenv"
	"danbao/internal/webhook"
)

// deadAndHealthy starts an endpoint that never answers (counting the
// attempts it got) and one that answers at once (counting them too).
func deadAndHealthy(t *testing.T) (dead, healthy *httptest.Server, hung, sent *atomic.Int64) {
	stop := make(chan struct{})
	hung, sent = new(atomic.Int64), new(atomic.Int64)
	dead = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung.Add(1)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(dead.Close)
	t.Cleanup(func() { close(stop) })
	healthy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(healthy.Close)
	return dead, healthy, hung, sent
}

// run runs s as the instance does until the test ends.
func run(t *testing.T, s *webhook.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// TestDeadEndpointDoesNotThrottleOthers: an endpoint that never answers
// (no attempt to it ends while the test runs) has a backlog of 40;
// another webhook's 40 due deliveries all go out meanwhile. Found in
// review: each step waited for its slowest send, so while any endpoint was
// down every healthy webhook got at most Workers deliveries per timeout.
// Free workers now claim again at once, and one webhook has at most
// PerWebhook of them.
func TestDeadEndpointDoesNotThrottleOthers(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
		c := e.App.DB.Client
		dead, healthy, hung, sent := deadAndHealthy(t)
		s := webhook.New(c, nil, webhook.Config{Sandbox: true, Workers: 8, Timeout: time.Minute,
			Schedule: []time.Duration{time.Hour}, Now: func() time.Time { return time.Now().Add(later) }})
		seedDeliveries(t, c, dead.URL+"/h", 40)
		seedDeliveries(t, c, healthy.URL+"/h", 40)
		run(t, s)
		start := time.Now()
		for sent.Load() < 40 && time.Since(start) < 30*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		if n := sent.Load(); n < 40 {
			t.Fatalf("%d of 40 deliveries to an endpoint that answers went out in 30 s beside a dead one", n)
		}
		if n := hung.Load(); n == 0 || n > int64(s.PerWebhook()) {
			t.Fatalf("%d attempts under way to the dead endpoint, want 1 to %d", n, s.PerWebhook())
		}
	})
}

// TestManyDeadWebhooksDelayOthersOnce: 16 webhooks that never answer
// (each attempt times out), with three deliveries each, and a healthy
// webhook with one: the sender (8 workers) tries each dead webhook at most
// PerWebhook times at once, then pauses it for its retry delay, so the
// healthy delivery goes out and the dead webhooks' other deliveries are
// not tried again (found in review: every claim took the dead webhooks'
// rows first, a queued event waited 4 x backlog timeouts, 40 s each with
// the defaults).
func TestManyDeadWebhooksDelayOthersOnce(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
	c := e.App.DB.Client
	dead, healthy, hung, sent := deadAndHealthy(t)
	const timeout = 400 * time.Millisecond
	s := webhook.New(c, nil, webhook.Config{Sandbox: true, Workers: 8, Timeout: timeout,
		Schedule: []time.Duration{time.Hour}, Now: func() time.Time { return time.Now().Add(later) }})
	for range 16 {
		seedDeliveries(t, c, dead.URL+"/h", 3)
	}
	seedDeliveries(t, c, healthy.URL+"/h", 1)
	start := time.Now()
	run(t, s)
	for sent.Load() == 0 && time.Since(start) < 30*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if sent.Load() == 0 {
		t.Fatalf("the healthy delivery did not go out in 30 s beside 16 dead webhooks (%d attempts to them)", hung.Load())
	}
	time.Sleep(5 * timeout) // the dead webhooks' other deliveries wait
	if n := hung.Load(); n > int64(16*s.PerWebhook()) {
		t.Fatalf("%d attempts to 16 dead webhooks (48 deliveries), want at most %d each before their pause", n, s.PerWebhook())
	}
}
