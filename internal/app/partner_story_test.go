package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"danbao/internal/testenv"
)

// TestPartnerStory: a partner takes a token by client credentials, creates
// a payment for a seller who connected it (and is FORBIDDEN for one who
// did not), and follows the payment on a subscription and on a webhook
// whose endpoint fails three times and then succeeds: four attempts of
// one delivery (same webhook-id), each signature accepted by the
// standardwebhooks npm library (e2e/verify-webhooks.mjs) and refused over
// a tampered body.
func TestPartnerStory(t *testing.T) {
	node, dir := nodeProject(t, "standardwebhooks")
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d, testenv.With("DANBAO_WEBHOOK_RETRY_SCHEDULE", "50ms,50ms,50ms,50ms"),
			testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "50ms"))
		srv, requests := flakyEndpoint(t, 3)

		c := createPartner(t, e.Env, e.Operator(t))
		tok := partnerToken(t, e.Env, c)
		seller, unconnected := e.RegisterVerified(t), e.RegisterVerified(t)
		b := e.buyer(t, "500.00")
		var conn struct {
			ConnectPartnerApp struct{ UserErrors []struct{ Code string } }
		}
		e.Do(t, seller.AccessToken, `mutation($c: String!){ connectPartnerApp(input:{clientId:$c}){ userErrors { code } } }`,
			map[string]any{"c": c.ClientID}).Decode(t, &conn)
		if ue := conn.ConnectPartnerApp.UserErrors; len(ue) > 0 {
			t.Fatalf("connect: %+v", ue)
		}
		_, secret, codes := registerWebhook(t, e.Env, tok, srv.URL, []string{"payment.paid"})
		if len(codes) > 0 {
			t.Fatal(codes)
		}
		w := e.Subscriber(t, tok)
		subscribePayments(t, w, "p", nil)

		const create = `mutation($in: CreatePaymentInput!){ createPayment(input:$in){ payment { id } userErrors { code } } }`
		in := func(payee string, key string) map[string]any {
			return map[string]any{"in": map[string]any{"payerId": b.ID, "payeeId": payee, "amount": "80.00", "idempotencyKey": key}}
		}
		if codes := e.Do(t, tok, create, in(unconnected.ID, "k0")).Codes(); len(codes) != 1 || codes[0] != "FORBIDDEN" {
			t.Fatalf("unconnected seller: %v", codes)
		}
		var out struct {
			CreatePayment struct{ Payment *struct{ ID string } }
		}
		e.Do(t, tok, create, in(seller.ID, "k1")).Decode(t, &out)
		if out.CreatePayment.Payment == nil {
			t.Fatal("the partner's payment was not created")
		}
		id := out.CreatePayment.Payment.ID
		var begin struct {
			BeginPaymentAuthorization struct{ Options json.RawMessage }
		}
		e.Do(t, b.AccessToken, `mutation($id: ID!){ beginPaymentAuthorization(input:{paymentId:$id}) { options } }`,
			map[string]any{"id": id}).Decode(t, &begin)
		if r := e.authorize(t, b, id, begin.BeginPaymentAuthorization.Options, "auth-story"); r.code() != "" {
			t.Fatalf("authorize: %+v", r)
		}
		if r := e.ship(t, seller, id); r.code() != "" {
			t.Fatal(r.code())
		}
		wantEvents(t, w, "p", id, "CREATE", "AUTHORIZE", "SHIP")

		waitUntil(t, 15*time.Second, "four attempts", func() bool { return len(requests()) >= 4 })
		time.Sleep(300 * time.Millisecond) // a fifth attempt would be a bug
		reqs := requests()
		if len(reqs) != 4 {
			t.Fatalf("%d attempts, want 4 (three failures, then success)", len(reqs))
		}
		type request struct {
			ID        string `json:"id"`
			Timestamp string `json:"timestamp"`
			Signature string `json:"signature"`
			Body      string `json:"body"`
		}
		var file struct {
			Secret   string    `json:"secret"`
			Requests []request `json:"requests"`
		}
		file.Secret = secret
		for _, r := range reqs {
			if r.id != reqs[0].id {
				t.Fatalf("webhook-id changed between attempts: %s, %s", reqs[0].id, r.id)
			}
			if !strings.Contains(string(r.body), id) {
				t.Fatalf("body names another payment: %s", r.body)
			}
			file.Requests = append(file.Requests, request{r.id, r.ts, r.sig, string(r.body)})
		}
		path := filepath.Join(t.TempDir(), "requests.json")
		raw, _ := json.Marshal(file)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s := startNode(ctx, t, node, dir, "verify-webhooks.mjs", path)
		verified, rejected := 0, 0
		s.await("ok", func(l string) bool {
			if strings.HasPrefix(l, "verified "+reqs[0].id+" payment.paid") {
				verified++
			}
			if l == "tampered rejected "+reqs[0].id {
				rejected++
			}
			return l == "ok"
		})
		if verified != 4 || rejected != 4 {
			t.Fatalf("verified %d, tampered rejected %d; want 4 and 4", verified, rejected)
		}
	})
}

// TestEventCrossesServerInstances (PostgreSQL): two full instances, each
// with its own listener and event hub, share one database (and, as in
// production, one token key and one identity keyring). A buyer follows
// their payments on instance A while paying through instance B: the
// events arrive on A. Polling is switched (almost) off, so the wake-up
// crosses by LISTEN/NOTIFY.
func TestEventCrossesServerInstances(t *testing.T) {
	url := testenv.DatabaseURL(t, testenv.Postgres)
	opts := append(sharedKeys(), testenv.With("DATABASE_URL", url), sharedTokenKey(t),
		testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h"))
	b := newEscrowEnv(t, testenv.Postgres, opts...)
	a := testenv.New(t, testenv.Postgres, opts...)
	buyer := b.buyer(t, "500.00")
	seller := b.RegisterVerified(t)

	w := a.Subscriber(t, buyer.AccessToken)
	subscribePayments(t, w, "x", nil)
	id := b.pay(t, buyer, seller, "42.00")
	if r := b.ship(t, seller, id); r.code() != "" {
		t.Fatal(r.code())
	}
	wantEvents(t, w, "x", id, "CREATE", "AUTHORIZE", "SHIP")

	// And a subscriber on B sees what is done through A.
	wb := b.Subscriber(t, seller.AccessToken)
	subscribePayments(t, wb, "y", map[string]any{"id": id})
	var confirmed struct {
		ConfirmReceipt struct {
			Payment    *struct{ Status string }
			UserErrors []struct{ Code string }
		}
	}
	a.Do(t, buyer.AccessToken, `mutation($id: ID!){ confirmReceipt(input:{paymentId:$id}){ payment { status } userErrors { code } } }`,
		map[string]any{"id": id}).Decode(t, &confirmed)
	if r := confirmed.ConfirmReceipt; r.Payment == nil || r.Payment.Status != "COMPLETED" || len(r.UserErrors) > 0 {
		t.Fatalf("confirm through A: %+v", r)
	}
	wantEvents(t, wb, "y", id, "CONFIRM")
	wantEvents(t, w, "x", id, "CONFIRM")
}

// sharedTokenKey gives instances that share a database one token signing
// key, as production configures them (DANBAO_JWT_KEY_FILE): a token one
// signed is then good on the other.
func sharedTokenKey(t *testing.T) testenv.Option {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testenv.With("DANBAO_JWT_KEY_FILE", keyFile)
}
