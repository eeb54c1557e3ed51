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

// TestBusyWebhooksDoNotStarveANewDelivery: four webhooks that answer
// slowly (100 to 500 ms, within the timeout) have backlogs of 40 and fill
// the sender's 8 workers; a delivery that becomes due for another webhook
// goes out with the next worker set free, not after their backlogs (found
// in review: the backlogs' older rows came first in every claim, and the
// delivery waited about 5 s). Webhooks with nothing under way are claimed
// first.
func TestBusyWebhooksDoNotStarveANewDelivery(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
	c := e.App.DB.Client
	var slowHits atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// 100 to 500 ms, so that the sends end at different times
		time.Sleep(100*time.Millisecond + time.Duration(slowHits.Add(1)*137%400)*time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(slow.Close)
	var sentAt atomic.Int64
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sentAt.CompareAndSwap(0, time.Now().UnixNano())
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(healthy.Close)
	s := webhook.New(c, nil, webhook.Config{Sandbox: true, Workers: 8, Timeout: 5 * time.Second,
		Schedule: []time.Duration{time.Hour}, Now: func() time.Time { return time.Now().Add(later) }})
	for i := range 4 {
		seedDeliveries(t, c, slow.URL+"/h"+string(rune('a'+i)), 40)
	}
	run(t, s)
	for slowHits.Load() < 8 {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the slow sends end at different times from now on
	start := time.Now()
	seedDeliveries(t, c, healthy.URL+"/h", 1)
	for sentAt.Load() == 0 && time.Since(start) < 20*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if sentAt.Load() == 0 {
		t.Fatal("the new delivery did not go out in 20 s")
	}
	if d := time.Unix(0, sentAt.Load()).Sub(start); d > 1500*time.Millisecond {
		t.Fatalf("the new delivery waited %v behind 4 busy webhooks' backlogs (a send of theirs lasts 100 to 500 ms)", d.Round(10*time.Millisecond))
	}
}
