package app_test

import (
	"context"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/ent/webhook"
	"danbao/ent/webhookdelivery"
	"danbao/internal/testenv"
)

// TestWebhookDeleted: a partner deletes a webhook whose delivery is being
// retried. It is gone from the partner's list, its deliveries and its row
// are removed, nothing more is sent to it (its endpoint healthy again or
// not), and every operation on it or its deliveries is NOT_FOUND; the
// partner's other webhook goes on receiving. Another partner cannot
// delete a webhook it does not own.
func TestWebhookDeleted(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, fastRetries...)
		gone, goneCalls, healthy := switchableEndpoint(t)
		kept, keptCalls, keptHealthy := switchableEndpoint(t)
		keptHealthy.Store(true)
		op := e.Operator(t)
		c, other := createPartner(t, e, op), createPartner(t, e, op)
		tok, otherTok := partnerToken(t, e, c), partnerToken(t, e, other)
		goneID, _, codes := registerWebhook(t, e, tok, gone.URL+"/h", []string{"payment.*"})
		keptID, _, codes2 := registerWebhook(t, e, tok, kept.URL+"/h", []string{"payment.*"})
		if len(codes) > 0 || len(codes2) > 0 {
			t.Fatal(codes, codes2)
		}
		del := func(token, id string) (string, []string) {
			t.Helper()
			var out struct {
				DeleteWebhook struct {
					DeletedWebhookID *string
					UserErrors       []struct{ Code string }
				}
			}
			e.Do(t, token, `mutation($id: ID!){ deleteWebhook(input:{webhookId:$id}){ deletedWebhookId userErrors { code } } }`,
				map[string]any{"id": id}).Decode(t, &out)
			var codes []string
			for _, ue := range out.DeleteWebhook.UserErrors {
				codes = append(codes, ue.Code)
			}
			got := ""
			if out.DeleteWebhook.DeletedWebhookID != nil {
				got = *out.DeleteWebhook.DeletedWebhookID
			}
			return got, codes
		}
		ctx := context.Background()
		db := e.App.DB.Client
		deliveriesOf := func(id string) []*ent.WebhookDelivery {
			t.Helper()
			ds, err := db.WebhookDelivery.Query().Where(webhookdelivery.WebhookID(pulid.ID(id))).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}

		partnerEvent(t, e, c.ID, "payment.created")
		waitUntil(t, 10*time.Second, "a failed attempt and a delivery", func() bool {
			return goneCalls.Load() >= 1 && keptCalls.Load() >= 1
		})
		retried := deliveriesOf(goneID)
		if len(retried) != 1 {
			t.Fatalf("deliveries before the deletion: %d", len(retried))
		}

		// Not the other partner's to delete.
		if got, codes := del(otherTok, goneID); got != "" || len(codes) != 1 || codes[0] != "NOT_FOUND" {
			t.Fatalf("another partner deleting it: %q %v", got, codes)
		}
		if got, codes := del(tok, goneID); got != goneID || len(codes) > 0 {
			t.Fatalf("deleting it: %q %v", got, codes)
		}
		if n, err := db.Webhook.Query().Where(webhook.ID(pulid.ID(goneID))).Count(ctx); err != nil || n != 0 {
			t.Fatalf("its row: %d, %v", n, err)
		}
		if ds := deliveriesOf(goneID); len(ds) != 0 {
			t.Fatalf("%d deliveries left", len(ds))
		}
		var list struct{ Webhooks []struct{ ID string } }
		e.Do(t, tok, `{ webhooks { id } }`, nil).Decode(t, &list)
		if len(list.Webhooks) != 1 || list.Webhooks[0].ID != keptID {
			t.Fatalf("webhooks after the deletion: %+v", list.Webhooks)
		}

		// Gone for every operation.
		if _, codes := del(tok, goneID); len(codes) != 1 || codes[0] != "NOT_FOUND" {
			t.Fatalf("deleting it twice: %v", codes)
		}
		for name, q := range map[string]string{
			"rotateWebhookSecret": `mutation($id: ID!){ r: rotateWebhookSecret(input:{webhookId:$id}){ userErrors { code } } }`,
			"setWebhookEnabled":   `mutation($id: ID!){ r: setWebhookEnabled(input:{webhookId:$id, enabled:true}){ userErrors { code } } }`,
			"redeliverWebhook":    `mutation($id: ID!){ r: redeliverWebhook(input:{deliveryId:$id}){ userErrors { code } } }`,
		} {
			id := goneID
			if name == "redeliverWebhook" {
				id = string(retried[0].ID)
			}
			var out struct {
				R struct{ UserErrors []struct{ Code string } }
			}
			e.Do(t, tok, q, map[string]any{"id": id}).Decode(t, &out)
			if ue := out.R.UserErrors; len(ue) != 1 || ue[0].Code != "NOT_FOUND" {
				t.Fatalf("%s on the deleted webhook: %+v", name, ue)
			}
		}

		// Nothing more reaches it; the other webhook gets the next event.
		time.Sleep(500 * time.Millisecond) // an attempt already claimed may finish
		healthy.Store(true)
		before, keptBefore := goneCalls.Load(), keptCalls.Load()
		partnerEvent(t, e, c.ID, "payment.paid")
		waitUntil(t, 10*time.Second, "the kept webhook's delivery", func() bool { return keptCalls.Load() > keptBefore })
		time.Sleep(300 * time.Millisecond) // the deleted one's retry would have fallen due several times
		if got := goneCalls.Load(); got != before {
			t.Fatalf("%d requests to the deleted webhook", got-before)
		}
		if ds := deliveriesOf(goneID); len(ds) != 0 {
			t.Fatalf("%d deliveries queued for the deleted webhook", len(ds))
		}
	})
}

// TestDeletedWebhooksPurged: a deletion whose request ended before its
// deliveries were removed (the row marked deleted, the log still there)
// is finished by PurgeDeleted, batch by batch: the deliveries, then the
// row; a webhook not deleted keeps its own.
func TestDeletedWebhooksPurged(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		c := createPartner(t, e, e.Operator(t))
		tok := partnerToken(t, e, c)
		goneID, _, codes := registerWebhook(t, e, tok, "https://93.184.215.14/a", []string{"payment.*"})
		keptID, _, codes2 := registerWebhook(t, e, tok, "https://93.184.215.14/b", []string{"payment.*"})
		if len(codes) > 0 || len(codes2) > 0 {
			t.Fatal(codes, codes2)
		}
		ctx := context.Background()
		db := e.App.DB.Client
		for range 5 {
			ev := partnerEvent(t, e, c.ID, "payment.created")
			for _, id := range []string{goneID, keptID} {
				// The instance's own fan-out may have queued it already.
				if err := db.WebhookDelivery.Create().SetWebhookID(pulid.ID(id)).SetEventID(ev.ID).SetEventSeq(ev.Seq).
					SetEventType(ev.Type).OnConflictColumns(webhookdelivery.FieldWebhookID, webhookdelivery.FieldEventID).
					Ignore().Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := db.Webhook.UpdateOneID(pulid.ID(goneID)).SetDisabled(true).SetDeletedAt(time.Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := e.App.Webhooks.PurgeDeleted(ctx, 2)
		if err != nil || n != 5 {
			t.Fatalf("purged %d deliveries, %v; want 5", n, err)
		}
		count := func(id string) (rows, deliveries int) {
			rows, _ = db.Webhook.Query().Where(webhook.ID(pulid.ID(id))).Count(ctx)
			deliveries, _ = db.WebhookDelivery.Query().Where(webhookdelivery.WebhookID(pulid.ID(id))).Count(ctx)
			return
		}
		if r, ds := count(goneID); r != 0 || ds != 0 {
			t.Fatalf("deleted webhook: row %d, deliveries %d", r, ds)
		}
		if r, ds := count(keptID); r != 1 || ds != 5 {
			t.Fatalf("other webhook: row %d, deliveries %d", r, ds)
		}
		if n, err := e.App.Webhooks.PurgeDeleted(ctx, 2); err != nil || n != 0 {
			t.Fatalf("second pass: %d, %v", n, err)
		}
	})
}
