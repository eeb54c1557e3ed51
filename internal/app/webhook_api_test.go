package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/testenv"
)

// received is one request a test endpoint got.
type received struct {
	id, ts, sig string
	body        []byte
}

// receive reads what an endpoint got.
func receive(r *http.Request) received {
	body, _ := io.ReadAll(r.Body)
	return received{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body}
}

// verifyStandardWebhook checks a request the way a Standard Webhooks
// library does, written independently of package webhook: decode the
// whsec_ secret, HMAC-SHA256 over "id.timestamp.body", compare with each
// "v1," signature.
func verifyStandardWebhook(secret string, r received) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") || len(key) < 24 {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.id + "." + r.ts + "." + string(r.body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(r.sig) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func registerWebhook(t *testing.T, e *testenv.Env, token, url string, types []string) (id, secret string, codes []string) {
	t.Helper()
	var out struct {
		RegisterWebhook struct {
			Webhook    *struct{ ID string }
			Secret     string
			UserErrors []struct{ Code string }
		}
	}
	e.Do(t, token, `mutation($in: RegisterWebhookInput!){ registerWebhook(input:$in){ webhook { id } secret userErrors { code } } }`,
		map[string]any{"in": map[string]any{"url": url, "eventTypes": types}}).Decode(t, &out)
	p := out.RegisterWebhook
	for _, ue := range p.UserErrors {
		codes = append(codes, ue.Code)
	}
	if p.Webhook != nil {
		id = p.Webhook.ID
	}
	return id, p.Secret, codes
}

// partnerEvent appends a payment event that the partner may see.
func partnerEvent(t *testing.T, e *testenv.Env, partnerID, typ string) *ent.Event {
	t.Helper()
	ctx := context.Background()
	var ev *ent.Event
	err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
		var err error
		ev, err = events.Append(ctx, tx, events.Event{Type: typ, SubjectID: pulid.New("pay"), UserID: pulid.New("usr"),
			PartnerID: pulid.ID(partnerID), Payload: map[string]any{"status": "PAID", "amount": "12.50"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// waitUntil polls cond until it holds, failing the test after limit (a
// bound against hanging, not a speed assertion).
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// flakyEndpoint is a webhook receiver that answers 503 to its first
// failures requests and 204 after; requests returns what it got so far.
func flakyEndpoint(t *testing.T, failures int) (srv *httptest.Server, requests func() []received) {
	var mu sync.Mutex
	var got []received
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, receive(r))
		n := len(got)
		mu.Unlock()
		if n <= failures {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

// TestWebhookRetriesUntilSuccessSigned: an endpoint that fails three times
// then succeeds gets four signed attempts of one event (same webhook-id),
// the signature verifies independently and not over a tampered body, and
// the delivery log shows it.
func TestWebhookRetriesUntilSuccessSigned(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_WEBHOOK_RETRY_SCHEDULE", "50ms,50ms,50ms,50ms"),
			testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "50ms"))
		srv, requests := flakyEndpoint(t, 3)
		c := createPartner(t, e, e.Operator(t))
		tok := partnerToken(t, e, c)
		if _, _, codes := registerWebhook(t, e, tok, "http://10.0.0.5/hook", []string{"payment.*"}); len(codes) != 1 || codes[0] != "INVALID_INPUT" {
			t.Fatalf("private address: %v", codes)
		}
		if _, _, codes := registerWebhook(t, e, tok, srv.URL, []string{"not a type"}); len(codes) != 1 || codes[0] != "INVALID_INPUT" {
			t.Fatalf("bad type: %v", codes)
		}
		_, secret, codes := registerWebhook(t, e, tok, srv.URL+"/hook", []string{"payment.paid"})
		if len(codes) > 0 || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("register: %v %q", codes, secret)
		}
		partnerEvent(t, e, c.ID, "payment.shipped") // not subscribed
		ev := partnerEvent(t, e, c.ID, "payment.paid")
		partnerEvent(t, e, "pra_someoneelse", "payment.paid") // another partner's

		waitUntil(t, 15*time.Second, "four attempts", func() bool { return len(requests()) >= 4 })
		time.Sleep(300 * time.Millisecond) // nothing more may come
		got := requests()
		if len(got) != 4 {
			t.Fatalf("%d requests, want 4", len(got))
		}
		for i, r := range got {
			if r.id != string(ev.ID) {
				t.Fatalf("attempt %d: webhook-id %q, want the event id %s", i, r.id, ev.ID)
			}
			if ts, err := strconv.ParseInt(r.ts, 10, 64); err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
				t.Fatalf("attempt %d: webhook-timestamp %q", i, r.ts)
			}
			if !verifyStandardWebhook(secret, r) {
				t.Fatalf("attempt %d: the signature does not verify", i)
			}
			tampered := r
			tampered.body = []byte(strings.Replace(string(r.body), "12.50", "99.50", 1))
			if string(tampered.body) == string(r.body) || verifyStandardWebhook(secret, tampered) {
				t.Fatalf("attempt %d: a tampered body verifies", i)
			}
			if !strings.Contains(string(r.body), `"type":"payment.paid"`) || !strings.Contains(string(r.body), `"data":{`) {
				t.Fatalf("body %s", r.body)
			}
		}
		var out struct {
			Webhooks []struct {
				Deliveries struct {
					Edges []struct {
						Node struct {
							EventID, EventType, Status string
							Attempts                   int
							LastStatusCode             *int
							LastLatencyMs              *int
							NextAttemptAt              *time.Time
						}
					}
				}
			}
		}
		e.Do(t, tok, `{ webhooks { deliveries { edges { node { eventId eventType status attempts lastStatusCode lastLatencyMs nextAttemptAt } } } } }`, nil).Decode(t, &out)
		if len(out.Webhooks) != 1 || len(out.Webhooks[0].Deliveries.Edges) != 1 {
			t.Fatalf("log: %+v", out)
		}
		dl := out.Webhooks[0].Deliveries.Edges[0].Node
		if dl.EventID != string(ev.ID) || dl.Status != "SUCCEEDED" || dl.Attempts != 4 || dl.LastStatusCode == nil ||
			*dl.LastStatusCode != 204 || dl.LastLatencyMs == nil || dl.NextAttemptAt != nil {
			t.Fatalf("delivery: %+v", dl)
		}
	})
}

// TestWebhookFailsAfterScheduleThenRedelivers: a dead endpoint exhausts
// the schedule (FAILED), and redeliverWebhook sends it once more.
func TestWebhookFailsAfterScheduleThenRedelivers(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_WEBHOOK_RETRY_SCHEDULE", "20ms,20ms"),
		testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "30ms"))
	var calls atomic.Int32
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	c := createPartner(t, e, e.Operator(t))
	tok := partnerToken(t, e, c)
	registerWebhook(t, e, tok, srv.URL, []string{"payment.*"})
	partnerEvent(t, e, c.ID, "payment.created")
	type dl struct {
		ID, Status string
		Attempts   int
	}
	deliveries := func() []dl {
		var out struct {
			Webhooks []struct {
				Deliveries struct{ Edges []struct{ Node dl } }
			}
		}
		e.Do(t, tok, `{ webhooks { deliveries { edges { node { id status attempts } } } } }`, nil).Decode(t, &out)
		var ds []dl
		for _, edge := range out.Webhooks[0].Deliveries.Edges {
			ds = append(ds, edge.Node)
		}
		return ds
	}
	waitFor := func(status string) dl {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if ds := deliveries(); len(ds) == 1 && ds[0].Status == status {
				return ds[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("never %s: %+v", status, deliveries())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	failed := waitFor("FAILED")
	if failed.Attempts != 3 || calls.Load() != 3 {
		t.Fatalf("failed after %d attempts, %d calls; want 3 (1 + 2 retries)", failed.Attempts, calls.Load())
	}
	healthy.Store(true)
	var out struct {
		RedeliverWebhook struct{ UserErrors []struct{ Code string } }
	}
	e.Do(t, tok, `mutation($id: ID!){ redeliverWebhook(input:{deliveryId:$id}){ userErrors { code } } }`,
		map[string]any{"id": "whd_01JUNKJUNKJUNKJUNKJUNKJUNK"}).Decode(t, &out)
	if len(out.RedeliverWebhook.UserErrors) != 1 || out.RedeliverWebhook.UserErrors[0].Code != "NOT_FOUND" {
		t.Fatalf("unknown delivery: %+v", out)
	}
	e.Do(t, tok, `mutation($id: ID!){ redeliverWebhook(input:{deliveryId:$id}){ userErrors { code } } }`,
		map[string]any{"id": failed.ID}).Decode(t, &out)
	if len(out.RedeliverWebhook.UserErrors) > 0 {
		t.Fatalf("redeliver: %+v", out)
	}
	if ok := waitFor("SUCCEEDED"); ok.Attempts != 4 {
		t.Fatalf("after redelivery: %+v", ok)
	}
}

// sharedKeys gives instances that share a database one identity keyring,
// as production configures them (DANBAO_KYC_KEYS): each test instance
// would otherwise create its own in its data directory, and could not
// open what another sealed (webhook signing keys, card holder names).
func sharedKeys() []testenv.Option {
	key, index := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(key)
	_, _ = rand.Read(index)
	return []testenv.Option{testenv.With("DANBAO_KYC_KEYS", "1:"+base64.StdEncoding.EncodeToString(key)),
		testenv.With("DANBAO_KYC_INDEX_KEY", base64.StdEncoding.EncodeToString(index))}
}

// TestTwoDispatchersNeverSendOneDeliveryTwice: two instances on one
// PostgreSQL database run their senders against a slow endpoint; no event
// is ever in flight twice at once, and each is delivered exactly once.
func TestTwoDispatchersNeverSendOneDeliveryTwice(t *testing.T) {
	url := testenv.DatabaseURL(t, testenv.Postgres)
	opts := append(sharedKeys(), testenv.With("DATABASE_URL", url), testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "20ms"))
	a := testenv.New(t, testenv.Postgres, opts...)
	b := testenv.New(t, testenv.Postgres, opts...)
	var mu sync.Mutex
	inFlight, done := map[string]int{}, map[string]int{}
	overlap := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		inFlight[id]++
		if inFlight[id] > 1 {
			overlap++
		}
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		inFlight[id]--
		done[id]++
		mu.Unlock()
	}))
	defer srv.Close()
	c := createPartner(t, a, a.Operator(t))
	registerWebhook(t, a, partnerToken(t, a, c), srv.URL, []string{"payment.*"})
	const n = 40
	for i := range n {
		env := a
		if i%2 == 1 {
			env = b
		}
		partnerEvent(t, env, c.ID, "payment.paid")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		k := len(done)
		mu.Unlock()
		if k == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered", k, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if overlap > 0 {
		t.Fatalf("%d sends overlapped", overlap)
	}
	for id, k := range done {
		if k != 1 {
			t.Fatalf("event %s delivered %d times", id, k)
		}
	}
}

// TestWebhookSecretsSealedAtRest: a registered webhook's signing key is
// stored only encrypted; a key stored in plain text (before migration
// 0010) is sealed by the start-up backfill and its plain copy emptied;
// deliveries of both verify under the whsec_ secrets the partners hold.
func TestWebhookSecretsSealedAtRest(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "50ms"))
		ctx := context.Background()
		var mu sync.Mutex
		got := map[string][]received{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got[r.URL.Path] = append(got[r.URL.Path], receive(r))
			mu.Unlock()
		}))
		defer srv.Close()
		c := createPartner(t, e, e.Operator(t))
		id, secret, codes := registerWebhook(t, e, partnerToken(t, e, c), srv.URL+"/new", []string{"payment.*"})
		if len(codes) > 0 {
			t.Fatal(codes)
		}
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		row, err := e.App.DB.Client.Webhook.Get(ctx, pulid.ID(id))
		if err != nil {
			t.Fatal(err)
		}
		if len(row.Secret) != 0 || row.SecretCiphertext == nil || row.KeyVersion == nil ||
			bytes.Contains(*row.SecretCiphertext, key) {
			t.Fatalf("stored: plain %d bytes, sealed %v, version %v", len(row.Secret), row.SecretCiphertext != nil, row.KeyVersion)
		}

		// A row as migration 0010 found it: the key in plain text.
		oldKey := bytes.Repeat([]byte{7}, 32)
		old, err := e.App.DB.Client.Webhook.Create().SetPartnerID(pulid.ID(c.ID)).SetURL(srv.URL + "/old").
			SetEventTypes([]string{"payment.*"}).SetSecret(oldKey).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := e.App.Webhooks.SealSecrets(ctx, 10); err != nil || n != 1 {
			t.Fatalf("backfill: %d %v", n, err)
		}
		if n, err := e.App.Webhooks.SealSecrets(ctx, 10); err != nil || n != 0 {
			t.Fatalf("second backfill: %d %v", n, err)
		}
		if old, err = e.App.DB.Client.Webhook.Get(ctx, old.ID); err != nil || len(old.Secret) != 0 || old.SecretCiphertext == nil {
			t.Fatalf("after the backfill: %v %+v", err, old)
		}

		partnerEvent(t, e, c.ID, "payment.paid")
		waitUntil(t, 10*time.Second, "both deliveries", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got["/new"]) > 0 && len(got["/old"]) > 0
		})
		mu.Lock()
		defer mu.Unlock()
		if !verifyStandardWebhook(secret, got["/new"][0]) {
			t.Fatal("the new webhook's signature does not verify")
		}
		if !verifyStandardWebhook("whsec_"+base64.StdEncoding.EncodeToString(oldKey), got["/old"][0]) {
			t.Fatal("the backfilled webhook's signature does not verify")
		}
	})
}

// TestWebhookDeliveryLogPagesAndSecretRotates: the delivery log is a
// connection, newest event first, paged by first/after with no entry
// twice or missing; a foreign or bad cursor and a page over 100 are
// INVALID_INPUT; a status filter; rotateWebhookSecret gives a new secret
// that signs what is sent from then on, and refuses another partner's
// webhook.
func TestWebhookDeliveryLogPagesAndSecretRotates(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "50ms"))
		var mu sync.Mutex
		var got []received
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, receive(r))
			mu.Unlock()
		}))
		defer srv.Close()
		op := e.Operator(t)
		c, other := createPartner(t, e, op), createPartner(t, e, op)
		tok, otherTok := partnerToken(t, e, c), partnerToken(t, e, other)
		id, secret, _ := registerWebhook(t, e, tok, srv.URL, []string{"payment.*"})
		otherID, _, _ := registerWebhook(t, e, otherTok, srv.URL, []string{"payment.*"})
		const n = 5
		var want []string // event ids, newest first
		for range n {
			want = append([]string{string(partnerEvent(t, e, c.ID, "payment.paid").ID)}, want...)
		}
		partnerEvent(t, e, other.ID, "payment.paid")
		waitUntil(t, 10*time.Second, "six deliveries", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) >= n+1
		})

		type pageOut struct {
			Webhooks []struct {
				ID         string
				Deliveries struct {
					Edges []struct {
						Cursor string
						Node   struct{ EventID string }
					}
					PageInfo struct {
						HasNextPage, HasPreviousPage bool
						EndCursor                    *string
					}
				}
			}
		}
		const q = `query($first: Int, $after: Cursor, $status: WebhookDeliveryStatus){ webhooks { id deliveries(first:$first, after:$after, status:$status){
			edges { cursor node { eventId } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }`
		var seen []string
		var after any
		for pages := 0; ; pages++ {
			var out pageOut
			e.Do(t, tok, q, map[string]any{"first": 2, "after": after}).Decode(t, &out)
			if len(out.Webhooks) != 1 || out.Webhooks[0].ID != id {
				t.Fatalf("webhooks: %+v", out)
			}
			dl := out.Webhooks[0].Deliveries
			for _, edge := range dl.Edges {
				seen = append(seen, edge.Node.EventID)
			}
			if dl.PageInfo.HasPreviousPage != (after != nil) || pages > n {
				t.Fatalf("page %d: %+v", pages, dl.PageInfo)
			}
			if !dl.PageInfo.HasNextPage {
				break
			}
			after = *dl.PageInfo.EndCursor
		}
		if strings.Join(seen, ",") != strings.Join(want, ",") {
			t.Fatalf("pages gave %v, want %v", seen, want)
		}
		count := func(status string) int {
			var out pageOut
			e.Do(t, tok, q, map[string]any{"status": status}).Decode(t, &out)
			return len(out.Webhooks[0].Deliveries.Edges)
		}
		waitUntil(t, 10*time.Second, "five SUCCEEDED", func() bool { return count("SUCCEEDED") == n })
		if k := count("FAILED"); k != 0 {
			t.Fatalf("FAILED: %d", k)
		}
		// The other partner's cursor is not one of this webhook's.
		var theirs pageOut
		e.Do(t, otherTok, q, map[string]any{"first": 1}).Decode(t, &theirs)
		foreign := theirs.Webhooks[0].Deliveries.Edges[0].Cursor
		for _, vars := range []map[string]any{{"after": foreign}, {"first": 101}} {
			if codes := e.Do(t, tok, q, vars).Codes(); len(codes) != 1 || codes[0] != "INVALID_INPUT" {
				t.Fatalf("%v: %v", vars, codes)
			}
		}

		// Rotation.
		const rotate = `mutation($id: ID!){ rotateWebhookSecret(input:{webhookId:$id}){ webhook { id } secret userErrors { code } } }`
		var rot struct {
			RotateWebhookSecret struct {
				Webhook    *struct{ ID string }
				Secret     *string
				UserErrors []struct{ Code string }
			}
		}
		e.Do(t, tok, rotate, map[string]any{"id": otherID}).Decode(t, &rot)
		if r := rot.RotateWebhookSecret; r.Webhook != nil || len(r.UserErrors) != 1 || r.UserErrors[0].Code != "NOT_FOUND" {
			t.Fatalf("another partner's webhook: %+v", r)
		}
		e.Do(t, tok, rotate, map[string]any{"id": id}).Decode(t, &rot)
		r := rot.RotateWebhookSecret
		if r.Webhook == nil || r.Secret == nil || *r.Secret == secret || !strings.HasPrefix(*r.Secret, "whsec_") {
			t.Fatalf("rotate: %+v", r)
		}
		ev := partnerEvent(t, e, c.ID, "payment.shipped")
		var last received
		waitUntil(t, 10*time.Second, "the delivery after rotation", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				if g.id == string(ev.ID) {
					last = g
					return true
				}
			}
			return false
		})
		if !verifyStandardWebhook(*r.Secret, last) || verifyStandardWebhook(secret, last) {
			t.Fatal("after rotation: signed with the old secret, or not with the new one")
		}
	})
}
