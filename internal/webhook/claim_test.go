package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/ent/webhookdelivery"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/testenv"
	"danbao/internal/webhook"

	entsql "entgo.io/ent/dialect/sql"
)

// later is how far the test senders' clock runs ahead: the deliveries are
// due for them and not yet for the instance's own sender.
const later = time.Hour

// seedDeliveries writes a webhook to url and n deliveries of n events, due
// only in the test senders' future.
func seedDeliveries(t *testing.T, c *ent.Client, url string, n int) {
	t.Helper()
	ctx := context.Background()
	w, err := c.Webhook.Create().SetPartnerID("pra_claimtest").SetURL(url).
		SetEventTypes([]string{"test.*"}).SetSecret([]byte("0123456789abcdef0123456789abcdef")).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	due := time.Now().Add(later / 2).UTC()
	for range n {
		err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			ev, err := events.Append(ctx, tx, events.Event{Type: "test.claim", SubjectID: pulid.New("pay")})
			if err != nil {
				return err
			}
			return tx.WebhookDelivery.Create().SetWebhookID(w.ID).SetEventID(ev.ID).SetEventSeq(ev.Seq).
				SetEventType(ev.Type).SetNextAttemptAt(due).Exec(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func sender(c *ent.Client) *webhook.Service {
	return webhook.New(c, nil, webhook.Config{Sandbox: true, Workers: 12, Timeout: 5 * time.Second,
		Now: func() time.Time { return time.Now().Add(later) }})
}

// TestTwoSendersSendEachDeliveryOnce: two senders sharing one database
// step concurrently over 60 due deliveries to an endpoint that answers
// slowly; every delivery is sent exactly once, never two at a time, and
// ends SUCCEEDED with one attempt.
func TestTwoSendersSendEachDeliveryOnce(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
		c := e.App.DB.Client
		var mu sync.Mutex
		inFlight, sent := map[string]int{}, map[string]int{}
		overlaps := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("webhook-id")
			mu.Lock()
			if inFlight[id]++; inFlight[id] > 1 {
				overlaps++
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			inFlight[id]--
			sent[id]++
			mu.Unlock()
		}))
		defer srv.Close()
		const n = 60
		seedDeliveries(t, c, srv.URL, n)

		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, s := range []*webhook.Service{sender(c), sender(c)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if err := s.Step(ctx); err != nil {
						t.Errorf("step: %v", err)
						return
					}
					left, err := c.WebhookDelivery.Query().Where(webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING)).Count(ctx)
					if err != nil || left == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if overlaps > 0 {
			t.Fatalf("%d sends overlapped", overlaps)
		}
		if len(sent) != n {
			t.Fatalf("%d of %d events sent", len(sent), n)
		}
		for id, k := range sent {
			if k != 1 {
				t.Fatalf("event %s sent %d times", id, k)
			}
		}
		ds, err := c.WebhookDelivery.Query().All(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, dl := range ds {
			if dl.Status != webhookdelivery.StatusSUCCEEDED || dl.Attempts != 1 || dl.LeaseUntil != nil {
				t.Fatalf("delivery %s: %s after %d attempts, lease %v", dl.ID, dl.Status, dl.Attempts, dl.LeaseUntil)
			}
		}
	})
}

// TestClaimSkipsLockedRows (PostgreSQL): while another claimer's
// transaction holds some due rows locked, a claim neither waits for it nor
// takes those rows: it returns the others at once (FOR UPDATE SKIP
// LOCKED). A compare-and-set alone would block on the locked rows.
func TestClaimSkipsLockedRows(t *testing.T) {
	e := testenv.New(t, testenv.Postgres, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
	c := e.App.DB.Client
	seedDeliveries(t, c, "http://127.0.0.1:9/unused", 6)
	ctx := context.Background()
	all, err := c.WebhookDelivery.Query().Order(ent.Asc(webhookdelivery.FieldID)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held := map[pulid.ID]bool{all[0].ID: true, all[1].ID: true, all[2].ID: true}
	tx, err := c.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	locked, err := tx.WebhookDelivery.Query().Where(webhookdelivery.IDIn(all[0].ID, all[1].ID, all[2].ID)).
		Unique(false).ForUpdate(entsql.WithLockAction(entsql.NoWait)).All(ctx)
	if err != nil || len(locked) != 3 {
		t.Fatalf("lock: %v %d", err, len(locked))
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := sender(c).Claim(cctx, 10)
	if err != nil {
		t.Fatalf("claim while rows are locked: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("claimed %d, want the 3 unlocked", len(got))
	}
	for _, dl := range got {
		if held[dl.ID] || dl.LeaseUntil == nil {
			t.Fatalf("claimed %s (held %v, lease %v)", dl.ID, held[dl.ID], dl.LeaseUntil)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// The held rows are free again; the claimed ones are leased.
	rest, err := sender(c).Claim(ctx, 10)
	if err != nil || len(rest) != 3 {
		t.Fatalf("after release: %v %d", err, len(rest))
	}
	for _, dl := range rest {
		if !held[dl.ID] {
			t.Fatalf("claimed %s twice", dl.ID)
		}
	}
}

// TestFanoutPassesOverOtherEvents: the fan-out position moves to the head
// over events that no partner sees (so they are not scanned again each
// poll), and a partner event after them still gets its delivery.
func TestFanoutPassesOverOtherEvents(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
		c := e.App.DB.Client
		ctx := context.Background()
		w, err := c.Webhook.Create().SetPartnerID("pra_fanout").SetURL("https://example.com/hook").
			SetEventTypes([]string{"payment.*"}).SetSecret([]byte("0123456789abcdef0123456789abcdef")).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		add := func(partner pulid.ID) *ent.Event {
			var ev *ent.Event
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				var err error
				ev, err = events.Append(ctx, tx, events.Event{Type: "payment.paid", SubjectID: pulid.New("pay"), PartnerID: partner})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return ev
		}
		for range 3 {
			add("")
		}
		s := sender(c)
		if _, err := s.Fanout(ctx); err != nil {
			t.Fatal(err)
		}
		head, _ := events.Head(ctx, c)
		if pos, err := c.Counter.Get(ctx, webhook.FanoutCounter); err != nil || pos.Value != head {
			t.Fatalf("position %v (%v), head %d", pos, err, head)
		}
		ev := add("pra_fanout")
		if _, err := s.Fanout(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := c.WebhookDelivery.Query().Where(webhookdelivery.WebhookID(w.ID), webhookdelivery.EventID(ev.ID)).Count(ctx)
		if err != nil || n != 1 {
			t.Fatalf("deliveries of the partner event: %d %v", n, err)
		}
	})
}

// TestRedeliverDuringAnAttempt: a partner asks for a redelivery while an
// attempt of that delivery is under way on another instance. The request
// is refused CONFLICT and changes nothing: the attempt keeps its lease, a
// second sender claims nothing meanwhile (before, Redeliver cleared the
// lease and the second sender sent the same delivery at once), and the
// first attempt's outcome is recorded. Asked again once the attempt has
// ended, the redelivery makes it due and it is sent again.
func TestRedeliverDuringAnAttempt(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
		c := e.App.DB.Client
		release := make(chan struct{})
		arrived := make(chan struct{}, 1)
		var sent atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sent.Add(1) > 1 {
				return // only the first attempt hangs
			}
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		seedDeliveries(t, c, srv.URL+"/h", 1)
		ctx := context.Background()
		del, err := c.WebhookDelivery.Query().Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		first, second := sender(c), sender(c) // two instances
		done := make(chan error, 1)
		go func() { done <- first.Step(ctx) }()
		<-arrived // the first attempt is under way, under its lease
		_, rerr := second.Redeliver(ctx, "pra_claimtest", del.ID)
		serr := second.Step(ctx)
		n := sent.Load()
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !apperr.Is(rerr, apperr.Conflict) || serr != nil {
			t.Fatalf("redelivery during the attempt: %v (want CONFLICT), the second sender's step: %v", rerr, serr)
		}
		if n != 1 {
			t.Fatalf("sent %d times while the first attempt ran, want once", n)
		}
		got, err := c.WebhookDelivery.Get(ctx, del.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != webhookdelivery.StatusSUCCEEDED || got.Attempts != 1 || got.LeaseUntil != nil {
			t.Fatalf("after the first attempt: status %s, %d attempts, lease %v; want SUCCEEDED, 1, none", got.Status, got.Attempts, got.LeaseUntil)
		}
		if _, err := second.Redeliver(ctx, "pra_claimtest", del.ID); err != nil {
			t.Fatal(err)
		}
		if err := second.Step(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err = c.WebhookDelivery.Get(ctx, del.ID); err != nil {
			t.Fatal(err)
		}
		if n := sent.Load(); n != 2 || got.Status != webhookdelivery.StatusSUCCEEDED || got.Attempts != 2 {
			t.Fatalf("redelivered: sent %d times, status %s, %d attempts; want 2, SUCCEEDED, 2", n, got.Status, got.Attempts)
		}
	})
}
