package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/internal/events"
	"danbao/internal/testenv"
)

const (
	paymentEventsSub  = `subscription($after: String){ paymentEvents(after:$after){ cursor type occurredAt payment { id } } }`
	paymentUpdatedSub = `subscription($id: ID!){ paymentUpdated(paymentId:$id){ cursor type payment { id } } }`
)

// payEvent is one PaymentEvent as a subscription delivers it.
type payEvent struct {
	Cursor     *string
	Type       string
	OccurredAt time.Time
	Payment    struct{ ID string }
}

// nextPayEvent reads the next event of subscription id on w.
func nextPayEvent(t *testing.T, w *testenv.WS, id string) payEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var m struct{ PaymentEvents, PaymentUpdated *payEvent }
	got, err := w.NextData(ctx, &m)
	if err != nil {
		t.Fatalf("next event: %v", err)
	}
	if got != id {
		t.Fatalf("event of subscription %q, want %q", got, id)
	}
	ev := m.PaymentEvents
	if ev == nil {
		ev = m.PaymentUpdated
	}
	if ev == nil || ev.Cursor == nil || *ev.Cursor == "" || ev.Type == "" {
		t.Fatalf("event: %+v", ev)
	}
	return *ev
}

// wantEvents reads len(types) events and checks their types and payment.
func wantEvents(t *testing.T, w *testenv.WS, id, paymentID string, types ...string) []payEvent {
	t.Helper()
	var out []payEvent
	for _, typ := range types {
		ev := nextPayEvent(t, w, id)
		if ev.Type != typ || ev.Payment.ID != paymentID {
			t.Fatalf("got %s of %s, want %s of %s", ev.Type, ev.Payment.ID, typ, paymentID)
		}
		out = append(out, ev)
	}
	return out
}

func subscribePayments(t *testing.T, w *testenv.WS, id string, vars map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q := paymentEventsSub
	if _, ok := vars["id"]; ok {
		q = paymentUpdatedSub
	}
	if err := w.Subscribe(ctx, id, q, vars); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a live subscription starts from now
}

// TestPaymentEventsSubscription: a buyer follows their payments over the
// real server's WebSocket: every transition of the story in order with a
// cursor, nothing of a stranger's payment; a reconnect with the cursor of
// a transition in the middle replays the rest once, and the seller
// resuming from the buyer's cursor gets no transition twice either; the
// audit trail's cursors are the stream's.
func TestPaymentEventsSubscription(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)
		stranger := e.buyer(t, "100.00")
		w := e.Subscriber(t, b.AccessToken)
		subscribePayments(t, w, "1", nil)

		e.pay(t, stranger, seller, "10.00") // not the buyer's: never delivered
		id := e.pay(t, b, seller, "300.00")
		if r := e.ship(t, seller, id); r.code() != "" {
			t.Fatal(r.code())
		}
		if r := e.confirm(t, b.User, id); r.code() != "" {
			t.Fatal(r.code())
		}
		story := wantEvents(t, w, "1", id, "CREATE", "AUTHORIZE", "SHIP", "CONFIRM")
		for i := 1; i < len(story); i++ {
			if *story[i].Cursor == *story[i-1].Cursor || story[i].OccurredAt.Before(story[i-1].OccurredAt) {
				t.Fatalf("cursors and times of %d: %+v %+v", i, story[i-1], story[i])
			}
		}

		// A sentinel payment shows that nothing else was queued.
		next := e.create(t, b, seller, "5.00", "sentinel-1")
		wantEvents(t, w, "1", next.Payment.ID, "CREATE")

		// Resume after AUTHORIZE on a new connection: SHIP, CONFIRM, the
		// sentinel, each once, then live.
		mid := *story[1].Cursor
		w2 := e.Subscriber(t, b.AccessToken)
		subscribePayments(t, w2, "r", map[string]any{"after": mid})
		resumed := wantEvents(t, w2, "r", id, "SHIP", "CONFIRM")
		if *resumed[0].Cursor != *story[2].Cursor || *resumed[1].Cursor != *story[3].Cursor {
			t.Fatalf("resumed cursors %v %v, live %v %v", *resumed[0].Cursor, *resumed[1].Cursor, *story[2].Cursor, *story[3].Cursor)
		}
		wantEvents(t, w2, "r", next.Payment.ID, "CREATE")
		if r := e.cancel(t, b.User, next.Payment.ID); r.code() != "" {
			t.Fatal(r.code())
		}
		wantEvents(t, w2, "r", next.Payment.ID, "CANCEL")
		wantEvents(t, w, "1", next.Payment.ID, "CANCEL")

		// The seller resuming from the buyer's cursor: the same transitions
		// from SHIP on, none twice (the stranger's payment is the seller's
		// too, but earlier).
		ws := e.Subscriber(t, seller.AccessToken)
		subscribePayments(t, ws, "s", map[string]any{"after": mid})
		wantEvents(t, ws, "s", id, "SHIP", "CONFIRM")
		wantEvents(t, ws, "s", next.Payment.ID, "CREATE", "CANCEL")

		// Payment.events has the same cursors.
		var out struct {
			Payment struct {
				Events struct {
					Edges []struct{ Node struct{ Type, Cursor string } }
				}
			}
		}
		e.Do(t, b.AccessToken, `query($id: ID!){ payment(id:$id){ events(first: 10){ edges { node { type cursor } } } } }`,
			map[string]any{"id": id}).Decode(t, &out)
		edges := out.Payment.Events.Edges
		if len(edges) != len(story) {
			t.Fatalf("audit trail: %+v", edges)
		}
		for i, edge := range edges {
			if edge.Node.Type != story[i].Type || edge.Node.Cursor != *story[i].Cursor {
				t.Fatalf("audit row %d: %+v, stream %s %s", i, edge.Node, story[i].Type, *story[i].Cursor)
			}
		}

		// A cursor this server did not issue is refused, naming the
		// argument; so is one past the stream's last event (made up, or
		// kept from before the database was restored to an earlier state),
		// which would otherwise wait silently for its seq to come round.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		last := *story[len(story)-1].Cursor
		seq, err := events.ParseCursor(last)
		if err != nil {
			t.Fatal(err)
		}
		for i, bad := range []string{"nope", events.Cursor(seq + 1000)} {
			sub := fmt.Sprint("bad", i)
			subscribePayments(t, w2, sub, map[string]any{"after": bad})
			var m map[string]any
			if got, err := w2.NextData(ctx, &m); got != sub || testenv.ErrorCode(err) != "INVALID_INPUT" || testenv.ErrorField(err) != "after" {
				t.Fatalf("cursor %q: %s %v (field %q)", bad, got, err, testenv.ErrorField(err))
			}
			if m, err := w2.Next(ctx); err != nil || m.Type != "complete" || m.ID != sub {
				t.Fatalf("after the error: %v %+v", err, m)
			}
		}
		// A cursor the stream did issue is still accepted after those.
		subscribePayments(t, w2, "last", map[string]any{"after": last})
		wantEvents(t, w2, "last", next.Payment.ID, "CREATE", "CANCEL")
	})
}

// TestPaymentUpdatedSubscription: one payment's transitions for its buyer;
// someone else's payment (or no payment) is NOT_FOUND.
func TestPaymentUpdatedSubscription(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)
		stranger := e.buyer(t, "100.00")
		theirs := e.pay(t, stranger, seller, "10.00")
		id := e.pay(t, b, seller, "30.00")
		other := e.pay(t, b, seller, "20.00")

		w := e.Subscriber(t, b.AccessToken)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i, pid := range []string{theirs, "pay_01HZZZZZZZZZZZZZZZZZZZZZZZ"} {
			sub := fmt.Sprint("x", i)
			subscribePayments(t, w, sub, map[string]any{"id": pid})
			var m map[string]any
			if got, err := w.NextData(ctx, &m); got != sub || testenv.ErrorCode(err) != "NOT_FOUND" || testenv.ErrorField(err) != "paymentId" {
				t.Fatalf("paymentUpdated(%s): %v (field %q)", pid, err, testenv.ErrorField(err))
			}
			if m, err := w.Next(ctx); err != nil || m.Type != "complete" || m.ID != sub {
				t.Fatalf("after the error: %v %+v", err, m)
			}
		}
		subscribePayments(t, w, "1", map[string]any{"id": id})
		if r := e.ship(t, seller, other); r.code() != "" { // another payment: not this subscription's
			t.Fatal(r.code())
		}
		if r := e.ship(t, seller, id); r.code() != "" {
			t.Fatal(r.code())
		}
		wantEvents(t, w, "1", id, "SHIP")
	})
}

// TestPartnerPaymentEvents: a partner creates a payment for a seller who
// connected it (the buyer authorizes it with a passkey) and follows it; it
// sees only the payments it created, each transition once; a seller who
// has not connected it is FORBIDDEN; a user may not name another payer.
func TestPartnerPaymentEvents(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		c := createPartner(t, e.Env, e.Operator(t))
		seller := e.RegisterVerified(t)
		unconnected := e.RegisterVerified(t)
		b := e.buyer(t, "500.00")
		e.Do(t, seller.AccessToken, `mutation($c: String!){ connectPartnerApp(input:{clientId:$c}){ userErrors { code } } }`,
			map[string]any{"c": c.ClientID})
		tok := partnerToken(t, e.Env, c)
		w := e.Subscriber(t, tok)
		subscribePayments(t, w, "p", nil)

		const create = `mutation($in: CreatePaymentInput!){ createPayment(input:$in){ payment { id status } authorizationOptions userErrors { code field } } }`
		partnerCreate := func(token string, payer, payee *testenv.User, key string) *testenv.Response {
			return e.Do(t, token, create, map[string]any{"in": map[string]any{
				"payerId": payer.ID, "payeeId": payee.ID, "amount": "50.00", "idempotencyKey": key}})
		}
		if codes := partnerCreate(tok, b.User, unconnected, "k0").Codes(); len(codes) != 1 || codes[0] != "FORBIDDEN" {
			t.Fatalf("unconnected seller: %v", codes)
		}
		if codes := partnerCreate(b.AccessToken, b.User, seller, "k0").Codes(); len(codes) != 0 {
			t.Fatalf("user naming themself: %v", codes)
		}
		var bad struct {
			CreatePayment struct{ UserErrors []struct{ Code string } }
		}
		partnerCreate(b.AccessToken, seller, b.User, "k1").Decode(t, &bad)
		if ue := bad.CreatePayment.UserErrors; len(ue) != 1 || ue[0].Code != "INVALID_INPUT" {
			t.Fatalf("user naming another payer: %+v", ue)
		}
		var out struct {
			CreatePayment struct {
				Payment              *struct{ ID, Status string }
				AuthorizationOptions any
				UserErrors           []struct{ Code string }
			}
		}
		partnerCreate(tok, b.User, seller, "k2").Decode(t, &out)
		cp := out.CreatePayment
		if cp.Payment == nil || cp.Payment.Status != "CREATED" || cp.AuthorizationOptions != nil || len(cp.UserErrors) > 0 {
			t.Fatalf("partner createPayment: %+v", cp)
		}
		id := cp.Payment.ID
		p, err := e.App.DB.Client.Payment.Get(context.Background(), pulid.ID(id))
		if err != nil || p.PartnerID == nil || string(*p.PartnerID) != c.ID || string(p.PayerID) != b.ID {
			t.Fatalf("payment row: %v %+v", err, p)
		}
		// The buyer authorizes in the wallet app.
		var begin struct {
			BeginPaymentAuthorization struct {
				Options    json.RawMessage
				UserErrors []struct{ Code string }
			}
		}
		e.Do(t, b.AccessToken, `mutation($id: ID!){ beginPaymentAuthorization(input:{paymentId:$id}) { options userErrors { code } } }`,
			map[string]any{"id": id}).Decode(t, &begin)
		if r := e.authorize(t, b, id, begin.BeginPaymentAuthorization.Options, "auth-p"); r.code() != "" {
			t.Fatalf("authorize: %+v", r)
		}
		e.pay(t, b, seller, "20.00") // the buyer's own payment: not the partner's
		if r := e.ship(t, seller, id); r.code() != "" {
			t.Fatal(r.code())
		}
		wantEvents(t, w, "p", id, "CREATE", "AUTHORIZE", "SHIP")

		// paymentUpdated: the partner's payment yes, the buyer's own no.
		subscribePayments(t, w, "u", map[string]any{"id": id})
		if r := e.confirm(t, b.User, id); r.code() != "" {
			t.Fatal(r.code())
		}
		// One CONFIRM on each subscription (in either order), same cursor.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got := map[string]string{}
		for range 2 {
			var m struct{ PaymentEvents, PaymentUpdated *payEvent }
			sub, err := w.NextData(ctx, &m)
			ev := m.PaymentEvents
			if ev == nil {
				ev = m.PaymentUpdated
			}
			if err != nil || ev == nil || ev.Type != "CONFIRM" || ev.Cursor == nil || got[sub] != "" {
				t.Fatalf("confirm on %s: %v %+v", sub, err, ev)
			}
			got[sub] = *ev.Cursor
		}
		if got["p"] == "" || got["p"] != got["u"] {
			t.Fatalf("confirm cursors: %v", got)
		}
	})
}
