package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"danbao/auth"
	"danbao/internal/app"
	"danbao/internal/testenv"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

const balanceSub = `subscription { balanceChanged { cursor type occurredAt currency delta causeId } }`

type balanceMsg struct {
	BalanceChanged struct {
		Cursor, Type, Currency, Delta string
		CauseID                       *string
		OccurredAt                    time.Time
	}
}

// TestBalanceChangedSubscription: a subscriber receives its own balance
// changes (a top-up) as they commit, with a cursor, and never another
// user's.
func TestBalanceChangedSubscription(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		u := e.RegisterVerified(t)
		card := linkCard(t, e, u, cardOK)
		w := e.Subscriber(t, u.AccessToken)
		if err := w.Subscribe(ctx, "1", balanceSub, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the subscription starts from now
		funded(t, e, "7.00")               // someone else's money: not delivered
		if r := topUp(t, e, u, card, "100.00", "k1"); r.code() != "" {
			t.Fatal(r.code())
		}
		var m balanceMsg
		id, err := w.NextData(ctx, &m)
		if err != nil {
			t.Fatal(err)
		}
		b := m.BalanceChanged
		if id != "1" || b.Type != "balance.changed" || b.Currency != "CNY" || b.Delta != "100.00" || b.Cursor == "" || b.CauseID == nil || b.OccurredAt.IsZero() {
			t.Fatalf("got %s %+v", id, b)
		}
		if r := withdraw(t, e, u, card, "30.00", "w1"); r.code() != "" {
			t.Fatal(r.code())
		}
		if _, err := w.NextData(ctx, &m); err != nil || m.BalanceChanged.Delta != "-30.00" {
			t.Fatalf("withdrawal: %v %+v", err, m.BalanceChanged)
		}
	})
}

func closeCode(err error) websocket.StatusCode { return websocket.CloseStatus(err) }

// TestSubscriptionSocketRefusals: no token, a forged token, a browser
// origin not in the allowlist, too many connections per user, too many
// subscriptions per connection, silence before connection_init, and a token
// that expires while the socket is open.
func TestSubscriptionSocketRefusals(t *testing.T) {
	e := testenv.New(t, testenv.SQLite,
		testenv.With("DANBAO_CORS_ORIGINS", "https://app.example"),
		testenv.With("DANBAO_WS_MAX_SUBSCRIPTIONS", "2"),
		testenv.With("DANBAO_WS_MAX_CONNECTIONS_PER_USER", "2"),
		testenv.With("DANBAO_WS_INIT_TIMEOUT", "300ms"),
		testenv.With("DANBAO_ACCESS_TOKEN_TTL", "3s"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u := e.Register(t)

	init := func(payload map[string]any) error {
		w, _, err := e.DialWS(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Conn.CloseNow()
		return w.Init(ctx, payload)
	}
	if err := init(map[string]any{}); closeCode(err) != 4403 {
		t.Fatalf("no token: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": u.ID, "role": "USER", "iss": "danbao",
		"aud": []string{"danbao-api"}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()})
	tok.Header["kid"] = auth.Thumbprint(&e.Key.PublicKey)
	forged, _ := tok.SignedString(other)
	if err := init(map[string]any{"Authorization": "Bearer " + forged}); closeCode(err) != 4403 {
		t.Fatalf("forged token: %v", err)
	}

	// Origins: a foreign browser origin is refused at the handshake; the
	// allowed one and clients without Origin are accepted.
	if _, resp, err := e.DialWS(ctx, http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v", err)
	}
	w, _, err := e.DialWS(ctx, http.Header{"Origin": {"https://app.example"}})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	w.Conn.CloseNow()

	// Silence before connection_init closes the socket with 4408.
	w, _, err = e.DialWS(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Next(ctx); closeCode(err) != 4408 {
		t.Fatalf("no init: %v", err)
	}

	// Connections per user: two accepted, the third refused with 4403.
	fresh := func() string {
		var out struct{ Login struct{ AccessToken string } }
		e.Do(t, "", `mutation($in: LoginInput!){ login(input:$in){ accessToken } }`,
			map[string]any{"in": map[string]any{"phone": u.Phone, "password": u.Password}}).Decode(t, &out)
		return out.Login.AccessToken
	}
	token := fresh()
	first := e.Subscriber(t, token)
	second := e.Subscriber(t, token)
	if err := init(map[string]any{"Authorization": "Bearer " + token}); closeCode(err) != 4403 {
		t.Fatalf("third connection: %v", err)
	}
	// Subscriptions per connection: of three (started concurrently by the
	// server), two are accepted and one is RATE_LIMITED.
	for _, id := range []string{"a", "b", "c"} {
		if err := first.Subscribe(ctx, id, balanceSub, nil); err != nil {
			t.Fatal(err)
		}
	}
	if id, err := first.NextData(ctx, &balanceMsg{}); id == "" || testenv.ErrorCode(err) != "RATE_LIMITED" {
		t.Fatalf("third subscription: %s %v", id, err)
	}
	if m, err := first.Next(ctx); err != nil || m.Type != "complete" {
		t.Fatalf("after the refusal: %+v %v", m, err)
	}
	// A closed connection gives its slot back.
	second.Conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := init(map[string]any{"Authorization": "Bearer " + token})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot was not given back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The token expires (3s TTL): the socket is closed with 4403.
	for {
		_, err := first.Next(ctx)
		if err == nil {
			continue
		}
		if closeCode(err) != 4403 {
			t.Fatalf("at expiry: %v", err)
		}
		break
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}

// TestSubscriptionProtocolCloseCodes: the graphql-transport-ws close codes
// for protocol violations: 4400 for a message that is not JSON, of an
// unknown type or a connection_init whose payload is not an object, 4401 for a subscribe before connection_init, 4429 for a
// second connection_init, 4409 for a subscribe reusing an active id (an id
// whose operation ended may be used again); a ping before connection_init
// is answered.
func TestSubscriptionProtocolCloseCodes(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u := e.Register(t)
	auth := map[string]any{"Authorization": "Bearer " + u.AccessToken}
	dial := func() *testenv.WS {
		w, _, err := e.DialWS(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Conn.CloseNow() })
		return w
	}
	closedWith := func(w *testenv.WS) websocket.StatusCode {
		for {
			if _, err := w.Next(ctx); err != nil {
				return closeCode(err)
			}
		}
	}
	raw := func(w *testenv.WS, s string) {
		if err := w.Conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	w := dial()
	raw(w, `{"type":`)
	if c := closedWith(w); c != 4400 {
		t.Fatalf("not JSON before init: %d", c)
	}
	w = dial()
	raw(w, `{"type":"connection_init","payload":[1]}`)
	if c := closedWith(w); c != 4400 {
		t.Fatalf("init payload not an object: %d", c)
	}
	w = dial()
	if err := w.Init(ctx, auth); err != nil {
		t.Fatal(err)
	}
	raw(w, `{"type":"start","id":"1"}`)
	if c := closedWith(w); c != 4400 {
		t.Fatalf("unknown type: %d", c)
	}
	w = dial()
	if err := w.Subscribe(ctx, "1", balanceSub, nil); err != nil {
		t.Fatal(err)
	}
	if c := closedWith(w); c != 4401 {
		t.Fatalf("subscribe before init: %d", c)
	}
	w = dial()
	if err := w.Init(ctx, auth); err != nil {
		t.Fatal(err)
	}
	if err := w.Send(ctx, testenv.WSMessage{Type: "connection_init"}); err != nil {
		t.Fatal(err)
	}
	if c := closedWith(w); c != 4429 {
		t.Fatalf("second init: %d", c)
	}

	// A message of more JSON values than a POST body may hold: 1009 (found
	// in review: a 1 MB message of 500,000 values was decoded each time).
	w = dial()
	if err := w.Init(ctx, auth); err != nil {
		t.Fatal(err)
	}
	raw(w, `{"type":"subscribe","id":"big","payload":{"query":"subscription { balanceChanged { currency } }","variables":{"x":[1`+
		strings.Repeat(",1", app.MaxBodyValues)+`]}}}`)
	if c := closedWith(w); c != websocket.StatusMessageTooBig {
		t.Fatalf("a message of too many values: %d", c)
	}

	w = dial()
	if err := w.Send(ctx, testenv.WSMessage{Type: "ping"}); err != nil {
		t.Fatal(err)
	}
	if _, b, err := w.Conn.Read(ctx); err != nil || !strings.Contains(string(b), `"pong"`) {
		t.Fatalf("ping before init: %s %v", b, err)
	}
	if err := w.Init(ctx, auth); err != nil {
		t.Fatal(err)
	}
	// An id whose operation ended (here with NOT_FOUND) may be used again.
	for range 2 {
		if err := w.Subscribe(ctx, "p", paymentUpdatedSub, map[string]any{"id": "pay_01HZZZZZZZZZZZZZZZZZZZZZZZ"}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.NextData(ctx, &map[string]any{}); testenv.ErrorCode(err) != "NOT_FOUND" {
			t.Fatalf("paymentUpdated: %v", err)
		}
		if m, err := w.Next(ctx); err != nil || m.Type != "complete" {
			t.Fatalf("after the error: %+v %v", m, err)
		}
	}
	// A completed subscription's id too.
	for range 2 {
		if err := w.Subscribe(ctx, "b", balanceSub, nil); err != nil {
			t.Fatal(err)
		}
		if err := w.Send(ctx, testenv.WSMessage{ID: "b", Type: "complete"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Subscribe(ctx, "a", balanceSub, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Subscribe(ctx, "a", balanceSub, nil); err != nil {
		t.Fatal(err)
	}
	if c := closedWith(w); c != 4409 {
		t.Fatalf("duplicate id: %d", c)
	}
}
