package app_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/internal/app"
	"danbao/internal/testenv"
)

// TestRotateSecretRacingDelete (PostgreSQL): a rotateWebhookSecret whose
// update comes just after deleteWebhook committed answers NOT_FOUND (the
// webhook is gone), not an internal error, and rotates nothing (found in
// review: it read the webhook, then updated it by ID alone). On SQLite the
// update holds the one writer, so no deletion commits at that point.
func TestRotateSecretRacingDelete(t *testing.T) {
	func(t *testing.T, d testenv.Dialect) {
		var armed atomic.Bool
		entered, release := make(chan struct{}), make(chan struct{})
		e := testenv.New(t, d, testenv.WithOptions(func(o *app.Options) {
			o.Trace = func(ctx context.Context, stmt string) {
				s := strings.ToLower(stmt)
				// rotateWebhookSecret's update of the row it read.
				if (strings.Contains(s, "update `webhooks` set") || strings.Contains(s, `update "webhooks" set`)) &&
					strings.Contains(s, "secret") &&
					armed.CompareAndSwap(true, false) {
					close(entered)
					<-release
				}
			}
		}))
		c := createPartner(t, e, e.Operator(t))
		tok := partnerToken(t, e, c)
		id, _, codes := registerWebhook(t, e, tok, "https://93.184.215.14/a", []string{"payment.*"})
		if len(codes) > 0 {
			t.Fatal(codes)
		}
		armed.Store(true)
		type result struct{ top, user []string }
		rotated := make(chan result, 1)
		go func() {
			r := e.Do(t, tok, `mutation($id: ID!){ rotateWebhookSecret(input:{webhookId:$id}){ secret userErrors { code } } }`,
				map[string]any{"id": id})
			var out struct {
				RotateWebhookSecret *struct {
					Secret     *string
					UserErrors []struct{ Code string }
				}
			}
			var res result
			res.top = r.Codes()
			if len(r.Errors) == 0 {
				r.Decode(t, &out)
				for _, ue := range out.RotateWebhookSecret.UserErrors {
					res.user = append(res.user, ue.Code)
				}
			}
			rotated <- res
		}()
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("rotateWebhookSecret never reached its update")
		}
		if err := e.App.Webhooks.Delete(context.Background(), pulid.ID(c.ID), pulid.ID(id)); err != nil {
			t.Fatal(err)
		}
		close(release)
		res := <-rotated
		if len(res.top) != 0 || len(res.user) != 1 || res.user[0] != "NOT_FOUND" {
			t.Fatalf("rotateWebhookSecret racing deleteWebhook: top-level %v, userErrors %v; want userErrors [NOT_FOUND]", res.top, res.user)
		}
	}(t, testenv.Postgres)
}
