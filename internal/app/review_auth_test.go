package app_test

// Findings of a review of auth, sessions, passkeys and the HTTP limits, a
// test each; every one failed before its fix.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"danbao/ent/authsession"
	"danbao/internal/testenv"
)

// TestReviewNodesCountsEachID: nodes(ids:) resolves its selection once per
// ID (up to 100), so its cost must count the selection once per ID, as a
// connection counts it once per page entry. Otherwise one request of 100
// copies of the caller's own ID reads 100 full history pages (10,000
// entries with their context), which the same selection written as 95
// aliases is refused for (TestConnectionCostCountsPageSize).
func TestReviewNodesCountsEachID(t *testing.T) {
	count, counting, queries := countQueries()
	e := testenv.New(t, testenv.SQLite, count)
	u := seedHistory(t, e)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = u.ID
	}
	q := `query($ids:[ID!]!){ nodes(ids:$ids){ ... on User { transactions(first: 100) { edges { node {
		type counterparty topUp { id bankCard { last4 } } withdrawal { id } } } } } } }`
	counting.Store(true)
	r := e.Do(t, u.AccessToken, q, map[string]any{"ids": ids})
	counting.Store(false)
	if got := r.Codes(); len(got) != 1 || got[0] != "COMPLEXITY_LIMIT_EXCEEDED" {
		var out struct {
			Nodes []struct {
				Transactions struct{ Edges []json.RawMessage }
			}
		}
		_ = json.Unmarshal(r.Data, &out)
		n := 0
		for _, x := range out.Nodes {
			n += len(x.Transactions.Edges)
		}
		t.Fatalf("nodes(ids: 100 x own ID) with a page of 100 each: codes %v, %d entries read in %d queries; want COMPLEXITY_LIMIT_EXCEEDED",
			got, n, queries.Load())
	}
	// Within the budget, nodes still works.
	if r := e.Do(t, u.AccessToken, q, map[string]any{"ids": ids[:1]}); len(r.Errors) > 0 {
		t.Fatalf("nodes with one ID refused: %v", r.Codes())
	}
}

// TestReviewRefusedTransportsHaveCodes: every refusal carries
// extensions.code (docs/design.md, Errors). A POST that is not
// application/json, another method, a GET mutation and a GET with
// undecodable variables are refused by gqlgen's transports with a bare
// message.
func TestReviewRefusedTransportsHaveCodes(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	body := []byte(`{"query":"{ __typename }"}`)
	send := func(method, ct, url string) (int, []byte) {
		req, _ := http.NewRequest(method, e.Server.URL+url, bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := e.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, c := range []struct{ method, ct, url string }{
		{"POST", "", "/graphql"},
		{"POST", "text/plain", "/graphql"},
		{"POST", "application/graphql-response+json", "/graphql"},
		{"PUT", "application/json", "/graphql"},
		{"DELETE", "", "/graphql"},
		{"GET", "", "/graphql?query=" + urlQuery(`mutation { logout(input:{refreshToken:"x"}) { revoked } }`)},
		{"GET", "", "/graphql?query=" + urlQuery(`{ __typename }`) + "&variables=" + urlQuery(`{"a":`)},
	} {
		status, b := send(c.method, c.ct, c.url)
		var out struct {
			Errors []struct {
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		_ = json.Unmarshal(b, &out)
		if len(out.Errors) == 0 || out.Errors[0].Extensions["code"] == nil {
			t.Errorf("%s %q %s: %d %s: refused without extensions.code", c.method, c.ct, c.url, status, b)
		}
	}
}

func urlQuery(s string) string {
	var b bytes.Buffer
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + string("0123456789ABCDEF"[c>>4]) + string("0123456789ABCDEF"[c&15]))
		}
	}
	return b.String()
}

// TestReviewSubscriptionOverPOST: subscriptions are served over WebSocket,
// where a connection holds at most DANBAO_WS_MAX_SUBSCRIPTIONS and a user
// DANBAO_WS_MAX_CONNECTIONS_PER_USER. Over POST /graphql a subscription
// is executed too: it escapes both caps (acquireSubscription assumes no
// other transport serves subscriptions) and holds its stream until the
// request deadline, answered REQUEST_TIMEOUT. It must be refused at once
// with a stable code.
func TestReviewSubscriptionOverPOST(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_REQUEST_TIMEOUT", "3s"),
		testenv.With("DANBAO_WS_MAX_SUBSCRIPTIONS", "1"), testenv.With("DANBAO_WS_MAX_CONNECTIONS_PER_USER", "1"))
	u := e.Register(t)
	const n = 5 // five subscriptions at once, over a cap of one
	var wg sync.WaitGroup
	codes := make([][]string, n)
	took := make([]time.Duration, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			r := e.Post(t, u.AccessToken, "application/json", []byte(`{"query":"subscription { balanceChanged { currency } }"}`))
			codes[i], took[i] = r.Codes(), time.Since(start)
		}()
	}
	wg.Wait()
	for i := range n {
		if len(codes[i]) != 1 || codes[i][0] == "REQUEST_TIMEOUT" || took[i] > time.Second {
			t.Fatalf("subscription %d over POST: codes %v after %v; want a refusal at once (subscriptions are served over WebSocket)",
				i, codes[i], took[i].Round(time.Millisecond))
		}
	}
	t.Logf("codes %v took %v", codes, took)
	_ = context.Background
}

// TestReviewWebSocketOperationsHaveADeadline: every operation gets at most
// DANBAO_REQUEST_TIMEOUT (answered REQUEST_TIMEOUT), but queries and
// mutations sent over a subscription socket run without any deadline (the
// upgrade is exempt from it, for the subscriptions). A mutation waiting on
// a row lock is cut off at the deadline over HTTP, and waits for as long as
// the lock is held over WebSocket.
func TestReviewWebSocketOperationsHaveADeadline(t *testing.T) {
	e := testenv.New(t, testenv.Postgres, testenv.With("DANBAO_REQUEST_TIMEOUT", "1s"))
	u := e.Register(t)
	ctx := context.Background()
	// Hold the user's session row, as a long transaction would.
	tx, err := e.App.DB.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.AuthSession.Query().Where(authsession.UserID(pulidOf(u.ID))).ForUpdate().All(ctx); err != nil {
		t.Fatal(err)
	}
	const m = `mutation { signOutEverywhere { sessionsEnded } }`
	start := time.Now()
	if got := e.Do(t, u.AccessToken, m, nil).Codes(); len(got) != 1 || got[0] != "REQUEST_TIMEOUT" {
		t.Fatalf("over HTTP: codes %v after %v, want REQUEST_TIMEOUT", got, time.Since(start))
	}
	ws := e.Subscriber(t, u.AccessToken)
	if err := ws.Subscribe(ctx, "1", m, nil); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	start = time.Now()
	var out any
	_, err = ws.NextData(wait, &out)
	if testenv.ErrorCode(err) != "REQUEST_TIMEOUT" {
		t.Fatalf("over WebSocket: after %v still running or answered otherwise (%v, %v); want REQUEST_TIMEOUT within about 1s",
			time.Since(start).Round(time.Millisecond), out, err)
	}
}

// TestReviewSignInAddressBudgetIPv6: the per-address sign-in budget
// (DANBAO_SIGNIN_ADDRESS_RATE) is keyed by the full client address. A
// client on IPv6 holds a whole /64 (every one of its 2^64 addresses is
// its own), so it sprays password guesses over as many phones as it likes.
// The budget must hold for the client's /64 as it does for one IPv4
// address.
func TestReviewSignInAddressBudgetIPv6(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_SIGNIN_ADDRESS_RATE", "3"))
	h := e.App.Handler()
	login := func(remote string) []string { return guessFrom(h, remote) }
	// One IPv4 address: the fourth guess is refused.
	for i := range 4 {
		got := login("203.0.113.7:4000")
		if limited := len(got) == 1 && got[0] == "RATE_LIMITED"; limited != (i == 3) {
			t.Fatalf("IPv4 guess %d: codes %v", i+1, got)
		}
	}
	// Twenty guesses from one IPv6 /64, each from another address of it.
	for i := range 20 {
		if got := login(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1)); i >= 3 && (len(got) != 1 || got[0] != "RATE_LIMITED") {
			t.Fatalf("IPv6 guess %d from one /64 was not limited: codes %v", i+1, got)
		}
	}
}

// guessFrom sends a wrong password for a new phone to h as if from the
// TCP peer remote, each of forwarded as an X-Forwarded-For line, and
// returns the error codes of the response.
func guessFrom(h http.Handler, remote string, forwarded ...string) []string {
	body, _ := json.Marshal(map[string]any{"query": loginMutation,
		"variables": map[string]any{"p": testenv.NewPhone(), "w": "wrong password!"}})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for _, f := range forwarded {
		req.Header.Add("X-Forwarded-For", f)
	}
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out struct {
		Errors []struct{ Extensions map[string]any }
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	var codes []string
	for _, e := range out.Errors {
		c, _ := e.Extensions["code"].(string)
		codes = append(codes, c)
	}
	return codes
}

// TestSignInBudgetBehindTrustedProxy: behind the proxies of
// DANBAO_TRUSTED_PROXIES, the per-address sign-in budget is kept for the
// client each proxy names in X-Forwarded-For, not for the proxy (which
// would make one budget of every client's); from any other peer the header
// is ignored, so a client cannot escape its budget by writing it.
func TestSignInBudgetBehindTrustedProxy(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_SIGNIN_ADDRESS_RATE", "3"),
		testenv.With("DANBAO_TRUSTED_PROXIES", "10.0.0.0/8"))
	h := e.App.Handler()
	limited := func(codes []string) bool { return len(codes) == 1 && codes[0] == "RATE_LIMITED" }
	// Two clients behind two load balancers, alternating: three guesses
	// each pass.
	for i := range 3 {
		lb := []string{"10.0.0.1:443", "10.0.0.2:443"}[i%2]
		for _, client := range []string{"198.51.100.1", "198.51.100.2"} {
			if got := guessFrom(h, lb, fmt.Sprintf("6.6.6.%d, %s", i, client)); limited(got) {
				t.Fatalf("client %s via %s, guess %d: codes %v", client, lb, i+1, got)
			}
		}
	}
	// Each has used its three (the load balancers share one budget per
	// client); the left-most entry the client wrote changes nothing.
	for _, client := range []string{"198.51.100.1", "198.51.100.2"} {
		if got := guessFrom(h, "10.0.0.3:443", "7.7.7.7, "+client); !limited(got) {
			t.Fatalf("client %s over its budget: codes %v", client, got)
		}
	}
	// A third client behind the proxy still has its own.
	if got := guessFrom(h, "10.0.0.1:443", "198.51.100.3"); limited(got) {
		t.Fatalf("a fresh client behind the proxy: codes %v", got)
	}
	// An untrusted peer writing the header is its own address.
	for i := range 4 {
		got := guessFrom(h, "203.0.113.9:4000", fmt.Sprintf("198.51.100.%d", 10+i))
		if limited(got) != (i == 3) {
			t.Fatalf("untrusted peer, guess %d with a forged header: codes %v", i+1, got)
		}
	}
}

// TestReviewRootRefusalNamesItsField: a mutation field refused before it
// runs (RATE_LIMITED from the mutation budget, SESSION_REVOKED) is a
// top-level error whose path names the field, so that a client sending
// several aliases knows which one was refused.
func TestReviewRootRefusalNamesItsField(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_MUTATION_RATE", "1"))
	r := e.Do(t, "", `mutation { a: beginPasskeyLogin { options } b: beginPasskeyLogin { options } }`, nil)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "RATE_LIMITED" || fmt.Sprint(r.Errors[0].Path) != "[b]" {
		t.Fatalf("second alias over the budget: %+v, want RATE_LIMITED with path [b]", r.Errors)
	}
}
