package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"danbao/internal/testenv"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestBodyLimit(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	big := `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
	r := e.Post(t, "", "application/json", []byte(big))
	if r.Status != http.StatusRequestEntityTooLarge || r.Codes()[0] != "REQUEST_TOO_LARGE" {
		t.Fatalf("2 MiB body: status %d codes %v", r.Status, r.Codes())
	}
	// Without Content-Length (chunked), the limit still holds.
	req, _ := http.NewRequest(http.MethodPost, e.Server.URL+"/graphql", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked 2 MiB body: status %d", resp.StatusCode)
	}
}

func deepTypeQuery(levels int) string {
	// __type { fields { type { fields { type ... } } } }: each pair adds two.
	var b strings.Builder
	b.WriteString(`{ __type(name: "User") {`)
	for i := 0; i < levels/2; i++ {
		b.WriteString(" fields { type {")
	}
	b.WriteString(" name")
	for i := 0; i < levels/2; i++ {
		b.WriteString(" } }")
	}
	b.WriteString(" } }")
	return b.String()
}

func TestDepthLimit(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	// A 50-level introspection chain is refused by validation (gqlparser's
	// introspection depth rule) before execution.
	r := e.Do(t, "", deepTypeQuery(50), nil)
	if got := r.Codes(); len(got) != 1 || got[0] != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("50-level query: codes %v %+v", got, r.Errors)
	}
	if len(r.Data) != 0 && string(r.Data) != "null" {
		t.Fatalf("refused query returned data: %s", r.Data)
	}
	// GraphiQL's own introspection query (TypeRef nests ofType 9 deep) fits.
	if r := e.Do(t, "", introspectionQuery, nil); len(r.Errors) > 0 {
		t.Fatalf("introspection query refused: %+v", r.Errors)
	}
}

// TestUpgradeOtherThanWebSocket: a request carrying an Upgrade header
// for another protocol (curl --http2 sends h2c) is answered as the plain
// GET or POST it is, with JSON; before, it went to the subscription
// socket's handshake and got 426 with a mixed text and JSON body.
func TestUpgradeOtherThanWebSocket(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		var req *http.Request
		if method == http.MethodGet {
			req, _ = http.NewRequest(method, e.Server.URL+"/graphql?query=%7B__typename%7D", nil)
		} else {
			req, _ = http.NewRequest(method, e.Server.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Connection", "Upgrade, HTTP2-Settings")
		req.Header.Set("Upgrade", "h2c")
		resp, err := e.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != `{"data":{"__typename":"Query"}}` {
			t.Fatalf("%s with Upgrade: h2c: %d %s", method, resp.StatusCode, body)
		}
	}
}

// TestIntrospectionAskedOnce: with introspection on, an operation may
// select __schema under one response key, __type under ten, and no field
// inside them under two (aliases counted, through fragments); more is COMPLEXITY_LIMIT_EXCEEDED before anything runs (found
// in review: 700 aliases of __schema took half a gigabyte and half a
// minute, unauthenticated). GraphiQL's query, with its one __schema, is
// answered.
func TestIntrospectionAskedOnce(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	if r := e.Do(t, "", introspectionQuery, nil); len(r.Errors) > 0 {
		t.Fatalf("GraphiQL's introspection query refused: %+v", r.Errors)
	}
	types := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, " t%d: __type(name: \"User\") { name }", i)
		}
		return b.String()
	}
	for _, c := range []struct {
		query string
		ok    bool
	}{
		{`{ a: __schema { queryType { name } } }`, true},
		{`{ a: __schema { queryType { name } } b: __schema { queryType { name } } }`, false},
		{`{ ...S ...S } fragment S on Query { __schema { queryType { name } } }`, true}, // one field, merged
		{`{ ...S } fragment S on Query { a: __schema { queryType { name } } b: __schema { queryType { name } } }`, false},
		{`{ ... on Query { a: __schema { queryType { name } } } b: __schema { queryType { name } } }`, false},
		{`{` + types(10) + ` }`, true},
		{`{` + types(11) + ` }`, false},
		// Aliases inside the one __schema (found in review: 340 aliases of
		// types took 744 MB), through a fragment too.
		{`{ __schema { a: types { name } b: types { name } } }`, false},
		{`{ __schema { types { name f: fields { name } g: fields { name } } } }`, false},
		{`{ __schema { types { ...T } } } fragment T on __Type { a: name b: name }`, false},
		{`{ __type(name: "User") { fields { type { ...R } } } } fragment R on __Type { name x: ofType { name } y: ofType { name } }`, false},
		{`{ __schema { types { ...T ...T } } } fragment T on __Type { name fields { name } }`, true}, // one field, merged
		// Fields under one key are merged: their selections together
		// (found in review: each was checked alone, and only the last
		// __schema of a key).
		{`{ __schema { a: types { name } b: types { name } } __schema { queryType { name } } }`, false},
		{`{ __schema { types { a: name } types { b: name } } }`, false},
		{`{ __schema { types { a: fields { name } } types { b: fields { name } } } }`, false},
		{`{ __type(name: "User") { fields { x: name } fields { y: name } } }`, false},
		{`{ __schema { queryType { t: __typename n: __typename name } } }`, true}, // __typename is not introspection
		{graphqlJSIntrospection, true},
	} {
		r := e.Do(t, "", c.query, nil)
		if c.ok && len(r.Errors) > 0 {
			t.Fatalf("%s: %v", c.query, r.Codes())
		}
		if !c.ok && (!slices.Equal(r.Codes(), []string{"COMPLEXITY_LIMIT_EXCEEDED"}) || (len(r.Data) != 0 && string(r.Data) != "null")) {
			t.Fatalf("%s: %v %s, want COMPLEXITY_LIMIT_EXCEEDED and no data", c.query, r.Codes(), r.Data)
		}
	}
}

// graphqlJSIntrospection is graphql-js's getIntrospectionQuery with every
// option on.
const graphqlJSIntrospection = `query IntrospectionQuery {
  __schema {
    description
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`

// TestFragmentExpansionBounded: fragments that each spread the next two
// expand to 2^n fields in a few hundred tokens; the operation is refused
// COMPLEXITY_LIMIT_EXCEEDED by a count linear in its text, before the
// depth and complexity checks, which expand a fragment at every spread
// (found in review: 23 levels took 4.8 s, each level doubling it, so
// before this the 40 levels here would not finish). Introspection off and
// on: the check runs either way.
func TestFragmentExpansionBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("{ ...A0 ...B0 }")
	const n = 40
	for i := range n {
		fmt.Fprintf(&b, " fragment A%d on Query { ...A%d ...B%d } fragment B%d on Query { ...A%d ...B%d }", i, i+1, i+1, i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment A%d on Query { __typename } fragment B%d on Query { __typename }", n, n)
	for _, playground := range []string{"false", "true"} {
		e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_PLAYGROUND", playground))
		if r := e.Do(t, "", b.String(), nil); !slices.Equal(r.Codes(), []string{"COMPLEXITY_LIMIT_EXCEEDED"}) {
			t.Fatalf("playground %s: a %d-level fragment chain: %v", playground, n, r.Codes())
		}
		// A chain that expands to little is answered.
		if r := e.Do(t, "", `{ ...A } fragment A on Query { ...B ...B } fragment B on Query { __typename }`, nil); len(r.Errors) > 0 {
			t.Fatalf("playground %s: a small fragment chain: %v", playground, r.Codes())
		}
	}
}

// TestDepthLimitBeforeResolvers: with a tiny limit, a register mutation
// whose selection is too deep is refused and creates no user, proving the
// check ran before any resolver.
func TestDepthLimitBeforeResolvers(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_MAX_DEPTH", "2"))
	r := e.Do(t, "", `mutation { register(input:{phone:"+8613912345678", password:"long enough pw", displayName:"A"}) { user { id } } }`, nil)
	if got := r.Codes(); len(got) != 1 || got[0] != "DEPTH_LIMIT_EXCEEDED" {
		t.Fatalf("codes %v", got)
	}
	if n := userCount(t, e); n != 0 {
		t.Fatalf("a resolver ran: %d users", n)
	}
}

func TestComplexityAndTokenLimits(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_MAX_COMPLEXITY", "20"))
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 30; i++ {
		b.WriteString(" m" + strings.Repeat("x", i+1) + ": __typename")
	}
	b.WriteString("}")
	if got := e.Do(t, "", b.String(), nil).Codes(); len(got) != 1 || got[0] != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("30 aliases over a budget of 20: codes %v", got)
	}
	// A query of more tokens than the parser limit is refused unparsed.
	long := "{" + strings.Repeat(" __typename", 6000) + "}"
	if got := e.Do(t, "", long, nil).Codes(); len(got) != 1 || got[0] != "GRAPHQL_PARSE_FAILED" {
		t.Fatalf("6000-token query: codes %v", got)
	}
}

func TestIntrospectionAndPlaygroundSwitch(t *testing.T) {
	on := testenv.New(t, testenv.SQLite)
	if r := on.Do(t, "", `{ __schema { queryType { name } } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("introspection refused with the playground on: %v", r.Codes())
	}
	resp, err := http.Get(on.Server.URL + "/playground")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The page loads its bundle from the server, never from elsewhere.
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte(`src="/playground/playground.js"`)) || bytes.Contains(page, []byte("//")) {
		t.Fatalf("playground: %d\n%s", resp.StatusCode, page)
	}

	off := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_PLAYGROUND", "false"))
	r := off.Do(t, "", `{ __schema { queryType { name } } }`, nil)
	if got := r.Codes(); len(got) != 1 || got[0] != "INTROSPECTION_DISABLED" {
		t.Fatalf("introspection with the playground off: %s %v", r.Data, r.Errors)
	}
	// __typename is not introspection and still works.
	if r := off.Do(t, "", `{ __typename }`, nil); len(r.Errors) > 0 {
		t.Fatalf("__typename refused: %v", r.Errors)
	}
	// No field suggestions either ("Did you mean ...").
	r = off.Do(t, "", `{ mee { id } }`, nil)
	if len(r.Errors) == 0 || strings.Contains(r.Errors[0].Message, "Did you mean") {
		t.Fatalf("suggestions with introspection off: %v", r.Errors)
	}
	resp, err = http.Get(off.Server.URL + "/playground")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("playground with it off: %d", resp.StatusCode)
	}
}

func TestGetIsForQueriesOnly(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := e.Register(t)
	if r := e.Get(t, u.AccessToken, meQuery); len(r.Errors) > 0 {
		t.Fatalf("GET query: %v", r.Codes())
	}
	before := userCount(t, e)
	r := e.Get(t, "", `mutation { register(input:{phone:"+8613912345679", password:"long enough pw", displayName:"A"}) { accessToken } }`)
	if len(r.Errors) == 0 || r.Status == 200 && string(r.Data) != "null" && len(r.Data) > 0 {
		t.Fatalf("GET mutation accepted: %d %s", r.Status, r.Data)
	}
	if userCount(t, e) != before {
		t.Fatal("GET mutation created a user")
	}
}

func TestOperationalEndpoints(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	e.Register(t)
	get := func(path string) (int, string, http.Header) {
		resp, err := http.Get(e.Server.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, _, h := get("/healthz"); code != 200 || h.Get("X-Request-Id") == "" {
		t.Fatalf("healthz %d, request id %q", code, h.Get("X-Request-Id"))
	}
	if code, _, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	e.App.SetReady(false)
	if code, _, _ := get("/readyz"); code != 503 {
		t.Fatalf("readyz while shutting down: %d", code)
	}
	e.App.SetReady(true)
	_, metrics, _ := get("/metrics")
	for _, want := range []string{`danbao_graphql_operations_total{operation="mutation.register"} 1`, `danbao_graphql_operation_seconds_bucket`, `danbao_http_requests_total{code="200",route="/graphql"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	code, jwks, _ := get("/.well-known/jwks.json")
	var set struct {
		Keys []struct{ Kty, Crv, Kid, Alg string }
	}
	if err := json.Unmarshal([]byte(jwks), &set); code != 200 || err != nil || len(set.Keys) != 1 || set.Keys[0].Alg != "ES256" || set.Keys[0].Crv != "P-256" {
		t.Fatalf("jwks %d %s", code, jwks)
	}
}

func TestCORS(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_CORS_ORIGINS", "https://wallet.example"))
	preflight := func(path, method, origin string) (int, http.Header) {
		req, _ := http.NewRequest(http.MethodOptions, e.Server.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		resp, err := e.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	// The statement download too (found in review: no OPTIONS route, so a
	// browser's preflight for its bearer token got 405 and no CORS headers).
	for _, x := range []struct{ path, method string }{{"/graphql", "POST"}, {"/statements.csv", "GET"}} {
		if code, h := preflight(x.path, x.method, "https://wallet.example"); code != http.StatusNoContent ||
			h.Get("Access-Control-Allow-Origin") != "https://wallet.example" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Content-Disposition") {
			t.Fatalf("%s: allowed origin's preflight: %d %v", x.path, code, h)
		}
		if _, h := preflight(x.path, x.method, "https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s: other origin allowed: %v", x.path, h)
		}
	}
}

func TestInternalErrorsHideDetails(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := e.Register(t)
	// Break the database under the server: the error must not leak.
	if _, err := e.App.DB.SQL.Exec("ALTER TABLE users RENAME TO users_gone"); err != nil {
		t.Fatal(err)
	}
	r := e.Do(t, u.AccessToken, meQuery, nil)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "INTERNAL" || r.Errors[0].Message != "internal error" {
		t.Fatalf("errors %+v", r.Errors)
	}
	rid, _ := r.Errors[0].Extensions["requestId"].(string)
	if rid == "" || !strings.Contains(e.Logs(), rid) {
		t.Fatalf("request id %q not in the logs", rid)
	}
	if strings.Contains(r.Errors[0].Message, "users") {
		t.Fatal("internal detail leaked")
	}
}

// introspectionQuery is the shape GraphiQL sends (TypeRef nested 9 deep).
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}`

// TestMalformedArgumentsAreInvalidInput: values a custom scalar cannot
// decode are the caller's mistake, never an internal error.
func TestMalformedArgumentsAreInvalidInput(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := e.Register(t)
	for name, c := range map[string]struct {
		q    string
		vars map[string]any
	}{
		"number for an ID":          {`{ node(id: 42) { id } }`, nil},
		"number for an ID variable": {`query($id: ID!){ node(id: $id) { id } }`, map[string]any{"id": 42}},
		"garbage cursor":            {`{ me { transactions(first: 5, after: "garbage") { edges { cursor } } } }`, nil},
		"base64 but not a cursor":   {`{ me { transactions(first: 5, after: "gqFpoXg") { edges { cursor } } } }`, nil},
		"not a time":                {`{ me { transactions(first: 5, filter: {from: "yesterday"}) { edges { cursor } } } }`, nil},
		"number for a bank card ID": {`mutation { topUp(input:{bankCardId: 7, amount: "1", idempotencyKey: "k"}) { userErrors { code } } }`, nil},
	} {
		r := e.Do(t, u.AccessToken, c.q, c.vars)
		if got := r.Codes(); len(got) != 1 || (got[0] != "INVALID_INPUT" && got[0] != "GRAPHQL_VALIDATION_FAILED") {
			t.Errorf("%s: codes %v %+v", name, got, r.Errors)
		}
	}
	if strings.Contains(e.Logs(), "internal error") {
		t.Fatal("a malformed argument was logged as an internal error")
	}
}

// TestMutationRateLimit: past its budget a caller's mutations are refused
// with RATE_LIMITED (aliases count one each) and change nothing; queries
// and other callers are not affected.
func TestMutationRateLimit(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_MUTATION_RATE", "4"))
	a := e.Register(t) // one of the signed-out address's 4
	link := `mutation { one: linkBankCard(input:{cardNumber:"4242424242424242", holderName:"x"}) { userErrors { code } }
		two: linkBankCard(input:{cardNumber:"4242424242424242", holderName:"x"}) { userErrors { code } } }`
	r := e.Do(t, a.AccessToken, link, nil)
	if len(r.Errors) != 0 {
		t.Fatalf("within budget: %v", r.Codes())
	}
	e.Do(t, a.AccessToken, link, nil)
	r = e.Do(t, a.AccessToken, link, nil) // the 5th and 6th mutation fields
	if got := r.Codes(); len(got) != 2 || got[0] != "RATE_LIMITED" || r.Errors[0].Extensions["retryAfterSeconds"] == nil {
		t.Fatalf("over budget: %v", r.Errors)
	}
	if r := e.Do(t, a.AccessToken, meQuery, nil); len(r.Errors) > 0 {
		t.Fatalf("a query was limited: %v", r.Codes())
	}
	b := e.Register(t)
	if r := e.Do(t, b.AccessToken, link, nil); len(r.Errors) > 0 {
		t.Fatalf("another user was limited: %v", r.Codes())
	}
	if m := e.Do(t, "", `{ __typename }`, nil); len(m.Errors) > 0 {
		t.Fatal(m.Codes())
	}
}

// TestRequestDeadline: a request that outlives DANBAO_REQUEST_TIMEOUT stops
// and answers REQUEST_TIMEOUT, not an internal error.
func TestRequestDeadline(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_REQUEST_TIMEOUT", "1ns"))
		r := e.Do(t, "", `mutation { login(input:{phone:"+8613900000001", password:"whatever it is"}) { accessToken } }`, nil)
		if got := r.Codes(); len(got) != 1 || got[0] != "REQUEST_TIMEOUT" {
			t.Fatalf("codes %v (status %d, data %s, errors %+v)", got, r.Status, r.Data, r.Errors)
		}
	})
}
