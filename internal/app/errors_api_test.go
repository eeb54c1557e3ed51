package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"danbao/auth"
	"danbao/internal/testenv"

	"github.com/golang-jwt/jwt/v5"
)

const loginMutation = `mutation($p: String!, $w: String!) { login(input: {phone: $p, password: $w}) { accessToken userErrors { code field extensions } } }`

// TestWrongPasswordIsAUserError: a wrong password, and an unknown phone,
// are the userError INVALID_CREDENTIALS of the login payload, not a
// top-level error; a locked phone stays a userError (RATE_LIMITED).
func TestWrongPasswordIsAUserError(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		for name, vars := range map[string]map[string]any{
			"wrong password": {"p": u.Phone, "w": "not the password"},
			"unknown phone":  {"p": testenv.NewPhone(), "w": "not the password"},
		} {
			r := e.Do(t, "", loginMutation, vars)
			if len(r.Errors) > 0 {
				t.Fatalf("%s: top-level errors %v", name, r.Codes())
			}
			if ue := firstUserError(t, r, "login"); ue["code"] != "INVALID_CREDENTIALS" {
				t.Fatalf("%s: userError %v", name, ue)
			}
		}
		for range auth.FreeFailures {
			e.Do(t, "", loginMutation, map[string]any{"p": u.Phone, "w": "still not it"})
		}
		r := e.Do(t, "", loginMutation, map[string]any{"p": u.Phone, "w": u.Password})
		if ue := firstUserError(t, r, "login"); ue["code"] != "RATE_LIMITED" || len(r.Errors) > 0 {
			t.Fatalf("locked phone: %v, top-level %v", ue, r.Codes())
		}
	})
}

// TestUnauthenticatedReasons: UNAUTHENTICATED says why in
// extensions.reason: NO_TOKEN, TOKEN_INVALID, or TOKEN_EXPIRED only for a
// token that is sound but for its expiry; the same for a query and for a
// mutation that requires a signed-in caller.
func TestUnauthenticatedReasons(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := e.Register(t)
	kid := auth.Thumbprint(&e.Key.PublicKey)
	sign := func(exp time.Time, aud string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": u.ID, "role": "USER", "iss": "danbao",
			"aud": []string{aud}, "iat": exp.Add(-15 * time.Minute).Unix(), "exp": exp.Unix()})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(e.Key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	past := time.Now().Add(-10 * time.Minute)
	cases := []struct{ name, token, reason string }{
		{"no token", "", "NO_TOKEN"},
		{"garbage", "not.a.jwt", "TOKEN_INVALID"},
		{"expired", sign(past, "danbao-api"), "TOKEN_EXPIRED"},
		{"expired and for another audience", sign(past, "someone-else"), "TOKEN_INVALID"},
		{"valid but for another audience", sign(time.Now().Add(10*time.Minute), "someone-else"), "TOKEN_INVALID"},
	}
	ops := map[string]string{
		"query":    meQuery,
		"mutation": `mutation { beginPasskeyRegistration { options userErrors { code } } }`,
	}
	for _, c := range cases {
		for kind, op := range ops {
			r := e.Do(t, c.token, op, nil)
			if len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" || r.Errors[0].Extensions["reason"] != c.reason {
				t.Errorf("%s, %s: errors %+v, want UNAUTHENTICATED with reason %s", c.name, kind, r.Errors, c.reason)
			}
		}
	}
	if r := e.Do(t, sign(time.Now().Add(10*time.Minute), "danbao-api"), meQuery, nil); len(r.Errors) > 0 {
		t.Fatalf("a valid token was refused: %v", r.Errors)
	}
}

// TestSettleReturnsTheOperation: settleSandboxBankOperation answers the
// operation as settled (it used to answer topUp: null), on both engines.
func TestSettleReturnsTheOperation(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		op := e.Operator(t)
		u, _ := funded(t, e, "100")
		pending := linkCard(t, e, u, cardPending)
		top := topUp(t, e, u, pending, "30", "settle-top")
		wdr := withdraw(t, e, u, pending, "20", "settle-wdr")
		e.App.Bank.Drain()
		settle := `mutation($id: ID!, $o: BankOutcome!) { settleSandboxBankOperation(input: {id: $id, outcome: $o}) {
			topUp { id status amount } withdrawal { id status amount } userErrors { code } } }`
		type opView struct{ ID, Status, Amount string }
		var out struct {
			SettleSandboxBankOperation struct {
				TopUp, Withdrawal *opView
				UserErrors        []struct{ Code string }
			}
		}
		e.Do(t, op.AccessToken, settle, map[string]any{"id": top.ID, "o": "SUCCEEDED"}).Decode(t, &out)
		p := out.SettleSandboxBankOperation
		if len(p.UserErrors) > 0 || p.Withdrawal != nil || p.TopUp == nil || *p.TopUp != (opView{top.ID, "SUCCEEDED", "30.00"}) {
			t.Fatalf("settled top-up: %+v %+v %v", p.TopUp, p.Withdrawal, p.UserErrors)
		}
		e.Do(t, op.AccessToken, settle, map[string]any{"id": wdr.ID, "o": "FAILED"}).Decode(t, &out)
		p = out.SettleSandboxBankOperation
		if len(p.UserErrors) > 0 || p.TopUp != nil || p.Withdrawal == nil || *p.Withdrawal != (opView{wdr.ID, "FAILED", "20.00"}) {
			t.Fatalf("settled withdrawal: %+v %+v %v", p.TopUp, p.Withdrawal, p.UserErrors)
		}
		// What the answer said is what is stored, and the money followed.
		if s := nodeStatus(t, e, u, top.ID); s != "SUCCEEDED" {
			t.Fatalf("stored top-up is %s", s)
		}
		if b := balances(t, e, u); b.Available != "130.00" || b.Held != "0.00" {
			t.Fatalf("balance %+v", b)
		}
		verifyOK(t, e)
	})
}

// metricsText fetches /metrics.
func metricsText(t *testing.T, e *testenv.Env) string {
	t.Helper()
	resp, err := http.Get(e.Server.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestErrorMetricCountsUserErrors: danbao_graphql_errors_total counts
// userErrors by code (kind "user") as well as top-level errors (kind
// "top").
func TestErrorMetricCountsUserErrors(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := e.Register(t)
	for range 2 {
		e.Do(t, "", loginMutation, map[string]any{"p": u.Phone, "w": "not the password"})
	}
	e.Do(t, "", meQuery, nil)
	m := metricsText(t, e)
	for _, want := range []string{
		`danbao_graphql_errors_total{code="INVALID_CREDENTIALS",kind="user",operation="mutation.login"} 2`,
		`danbao_graphql_errors_total{code="UNAUTHENTICATED",kind="top",operation="query.me"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s; errors counted:\n%s", want, grepLines(m, "danbao_graphql_errors_total"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDebugLogGoesToTheConfiguredLogger: with DANBAO_LOG_LEVEL=debug (as
// testenv sets) the per-request log line reaches the server's own logger,
// not the process default one.
func TestDebugLogGoesToTheConfiguredLogger(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	resp, err := http.Get(e.Server.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	logs := e.Logs()
	if !strings.Contains(logs, `msg="http request"`) || !strings.Contains(logs, "route=/healthz") || !strings.Contains(logs, "request_id=") {
		t.Fatalf("no debug request log with its request id in the server's log:\n%s", logs)
	}
}
