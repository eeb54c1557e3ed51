package webhook_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/ent/webhookdelivery"
	"danbao/internal/db"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/testenv"
	wh "danbao/internal/webhook"
)

// TestDeleteDuringFanoutLeavesNoOrphan: a fan-out that read the webhook
// (still on) before deleteWebhook committed inserts its delivery after the
// purge looked for deliveries. The delivery must not outlive the webhook:
// after Delete and a maintenance pass none is left, and none is claimed.
func TestDeleteDuringFanoutLeavesNoOrphan(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
		cfg := e.App.Config
		// Stop the instance's own loops: this test drives the fan-out.
		if err := e.App.Close(); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		dbh, err := db.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dbh.Close() })
		c := dbh.Client
		partner := pulid.ID("pra_deleterace")
		w, err := c.Webhook.Create().SetPartnerID(partner).SetURL("http://127.0.0.1:1/h").
			SetEventTypes([]string{"payment.*"}).SetSecret([]byte("0123456789abcdef0123456789abcdef")).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			_, err := events.Append(ctx, tx, events.Event{Type: "payment.created", SubjectID: pulid.New("pay"),
				UserID: pulid.New("usr"), PartnerID: partner, Payload: map[string]any{"status": "CREATED"}})
			return err
		}); err != nil {
			t.Fatal(err)
		}

		// The fan-out's clock is first read after it has read the
		// partner's webhooks, inside its transaction: hold it there.
		var hold atomic.Bool
		hold.Store(true)
		entered, release := make(chan struct{}), make(chan struct{})
		fan := wh.New(c, nil, wh.Config{Sandbox: true, Now: func() time.Time {
			if hold.CompareAndSwap(true, false) {
				close(entered)
				<-release
			}
			return time.Now()
		}})
		fanned := make(chan error, 1)
		go func() { _, err := fan.Fanout(ctx); fanned <- err }()
		<-entered

		svc := wh.New(c, nil, wh.Config{Sandbox: true})
		deleted := make(chan error, 1)
		go func() { deleted <- svc.Delete(ctx, partner, w.ID) }()
		// Delete waits for the fan-out's row lock (SQLite: the writer):
		// let it get that far before the fan-out goes on.
		select {
		case err := <-deleted:
			t.Errorf("Delete finished while a fan-out that read the webhook was open (%v)", err)
			deleted <- err
		case <-time.After(300 * time.Millisecond):
		}

		close(release)
		if err := <-fanned; err != nil {
			t.Fatal(err)
		}
		if err := <-deleted; err != nil {
			t.Fatal(err)
		}
		if _, err := svc.PurgeDeleted(ctx, wh.DeleteBatch); err != nil {
			t.Fatal(err)
		}

		left, err := c.WebhookDelivery.Query().Where(webhookdelivery.WebhookID(w.ID)).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := c.Webhook.Query().Count(ctx)
		claimed, err := fan.Claim(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if left != 0 || len(claimed) != 0 {
			t.Fatalf("after deleteWebhook and a maintenance pass: %d deliveries of the deleted webhook left (webhook rows: %d), %d claimed",
				left, rows, len(claimed))
		}
	})
}
