package app_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/internal/testenv"
	"danbao/internal/webhook"
)

// TestWebhookTurnedOffAndOn: a partner turns its webhook off. Events
// committed while it is off are not queued for it, and a delivery that was
// still being retried waits, unsent, however often it falls due; turned on
// again, that delivery goes out and new events are delivered. Another
// partner's webhook (or none) is NOT_FOUND, and changes nothing.
func TestWebhookTurnedOffAndOn(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, fastRetries...)
		srv, calls, healthy := switchableEndpoint(t)
		op := e.Operator(t)
		c, other := createPartner(t, e, op), createPartner(t, e, op)
		tok := partnerToken(t, e, c)
		id, _, codes := registerWebhook(t, e, tok, srv.URL+"/h", []string{"payment.*"})
		if len(codes) > 0 {
			t.Fatal(codes)
		}
		set := func(token, id string, enabled bool) (bool, []string) {
			t.Helper()
			var out struct {
				SetWebhookEnabled struct {
					Webhook    *struct{ Enabled bool }
					UserErrors []struct{ Code string }
				}
			}
			e.Do(t, token, `mutation($id: ID!, $on: Boolean!){ setWebhookEnabled(input:{webhookId:$id, enabled:$on}){ webhook { enabled } userErrors { code } } }`,
				map[string]any{"id": id, "on": enabled}).Decode(t, &out)
			var codes []string
			for _, ue := range out.SetWebhookEnabled.UserErrors {
				codes = append(codes, ue.Code)
			}
			if out.SetWebhookEnabled.Webhook == nil {
				return false, codes
			}
			return out.SetWebhookEnabled.Webhook.Enabled, codes
		}
		type dl struct{ Status string }
		deliveries := func() []dl {
			var out struct {
				Webhooks []struct {
					Enabled    bool
					Deliveries struct{ Edges []struct{ Node dl } }
				}
			}
			e.Do(t, tok, `{ webhooks { enabled deliveries { edges { node { status } } } } }`, nil).Decode(t, &out)
			var ds []dl
			for _, edge := range out.Webhooks[0].Deliveries.Edges {
				ds = append(ds, edge.Node)
			}
			return ds
		}

		// A delivery being retried (the endpoint answers 503).
		partnerEvent(t, e, c.ID, "payment.created")
		waitUntil(t, 10*time.Second, "a failed attempt", func() bool { return calls.Load() >= 1 })
		if on, codes := set(tok, id, false); on || len(codes) > 0 {
			t.Fatalf("turning it off: enabled %v, %v", on, codes)
		}
		time.Sleep(200 * time.Millisecond) // an attempt already claimed may finish
		healthy.Store(true)
		before := calls.Load()
		partnerEvent(t, e, c.ID, "payment.paid") // while off: not queued for it
		time.Sleep(600 * time.Millisecond)       // the retry falls due several times over
		if got := calls.Load(); got != before {
			t.Fatalf("%d requests while the webhook was off", got-before)
		}
		if ds := deliveries(); len(ds) != 1 || ds[0].Status != "PENDING" {
			t.Fatalf("deliveries while off: %+v", ds)
		}

		// Another partner's token, or an unknown id: NOT_FOUND, nothing changes.
		if _, codes := set(partnerToken(t, e, other), id, true); len(codes) != 1 || codes[0] != "NOT_FOUND" {
			t.Fatalf("another partner's webhook: %v", codes)
		}
		if _, codes := set(tok, "whk_01JUNKJUNKJUNKJUNKJUNKJUNK", true); len(codes) != 1 || codes[0] != "NOT_FOUND" {
			t.Fatalf("unknown webhook: %v", codes)
		}
		time.Sleep(200 * time.Millisecond)
		if got := calls.Load(); got != before {
			t.Fatalf("refused calls turned it on: %d requests", got-before)
		}

		// On again: the waiting delivery goes out, and so does a new event.
		if on, codes := set(tok, id, true); !on || len(codes) > 0 {
			t.Fatalf("turning it on: enabled %v, %v", on, codes)
		}
		partnerEvent(t, e, c.ID, "payment.shipped")
		waitUntil(t, 10*time.Second, "both deliveries sent", func() bool {
			ds := deliveries()
			return len(ds) == 2 && ds[0].Status == "SUCCEEDED" && ds[1].Status == "SUCCEEDED"
		})
	})
}

// fastRetries has webhook deliveries retried every 50 ms and the outbox
// polled every 30 ms.
var fastRetries = []testenv.Option{testenv.With("DANBAO_WEBHOOK_RETRY_SCHEDULE", "50ms,50ms,50ms,50ms,50ms,50ms,50ms"),
	testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "30ms")}

// switchableEndpoint is a webhook receiver that counts its requests and
// answers 503 until healthy is set, 204 after.
func switchableEndpoint(t *testing.T) (srv *httptest.Server, calls *atomic.Int32, healthy *atomic.Bool) {
	t.Helper()
	calls, healthy = new(atomic.Int32), new(atomic.Bool)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, calls, healthy
}

// TestWebhooksOnAreBounded: a partner app may have at most
// webhook.MaxEnabledWebhooks webhooks on (each event is queued once for
// every one): one more, registered or turned on again, is LIMIT_EXCEEDED;
// turning one off makes room. Concurrent registrations at the bound let
// exactly one through, on both engines.
func TestWebhooksOnAreBounded(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		c := createPartner(t, e, e.Operator(t))
		tok := partnerToken(t, e, c)
		reg := func() (string, []string) {
			id, _, codes := registerWebhook(t, e, tok, "https://93.184.215.14/h", []string{"payment.*"})
			return id, codes
		}
		var ids []string
		for range webhook.MaxEnabledWebhooks - 1 {
			id, codes := reg()
			if len(codes) > 0 {
				t.Fatal(codes)
			}
			ids = append(ids, id)
		}
		// Five at once for the last place: one gets it.
		results := make([][]string, 5)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() { _, results[i] = reg() })
		}
		wg.Wait()
		ok, refused := 0, 0
		for _, codes := range results {
			switch {
			case len(codes) == 0:
				ok++
			case len(codes) == 1 && codes[0] == "LIMIT_EXCEEDED":
				refused++
			}
		}
		if ok != 1 || refused != 4 {
			t.Fatalf("five registrations for the last place: %v", results)
		}
		var out struct{ Webhooks []struct{ Enabled bool } }
		e.Do(t, tok, `{ webhooks { enabled } }`, nil).Decode(t, &out)
		if len(out.Webhooks) != webhook.MaxEnabledWebhooks {
			t.Fatalf("%d webhooks, want %d", len(out.Webhooks), webhook.MaxEnabledWebhooks)
		}
		// One turned off makes room for one more; it cannot then come back on.
		const set = `mutation($id: ID!, $on: Boolean!){ setWebhookEnabled(input:{webhookId:$id, enabled:$on}){ userErrors { code } } }`
		var sr struct {
			SetWebhookEnabled struct{ UserErrors []struct{ Code string } }
		}
		e.Do(t, tok, set, map[string]any{"id": ids[0], "on": false}).Decode(t, &sr)
		if len(sr.SetWebhookEnabled.UserErrors) > 0 {
			t.Fatal(sr)
		}
		if _, codes := reg(); len(codes) > 0 {
			t.Fatalf("after turning one off: %v", codes)
		}
		e.Do(t, tok, set, map[string]any{"id": ids[0], "on": true}).Decode(t, &sr)
		if ue := sr.SetWebhookEnabled.UserErrors; len(ue) != 1 || ue[0].Code != "LIMIT_EXCEEDED" {
			t.Fatalf("turning the 21st on: %+v", ue)
		}
		// Turning on one that is on already is no new place.
		e.Do(t, tok, set, map[string]any{"id": ids[1], "on": true}).Decode(t, &sr)
		if len(sr.SetWebhookEnabled.UserErrors) > 0 {
			t.Fatalf("turning on one already on: %+v", sr)
		}
	})
}
