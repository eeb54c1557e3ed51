package app_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"danbao/internal/testenv"
)

const registerMutation = `mutation($in: RegisterInput!) { register(input: $in) { accessToken userErrors { code field } } }`

// refusedInput checks that r was refused before execution with
// INVALID_INPUT naming field, and carries no data.
func refusedInput(t *testing.T, name string, r *testenv.Response, field ...string) {
	t.Helper()
	if len(r.Errors) != 1 || r.Errors[0].Code() != "INVALID_INPUT" {
		t.Errorf("%s: errors %+v, want one INVALID_INPUT", name, r.Errors)
		return
	}
	var got []string
	for _, f := range r.Errors[0].Extensions["field"].([]any) {
		got = append(got, f.(string))
	}
	if !slices.Equal(got, field) {
		t.Errorf("%s: field %v, want %v", name, got, field)
	}
	if len(r.Data) > 0 && string(r.Data) != "null" {
		t.Errorf("%s: data %s, want none", name, r.Data)
	}
}

// TestBadCharactersRefusedAtTheEdge: NUL, other control characters and
// bidirectional overrides in any string input, literal or variable, at the
// root or nested, are refused with INVALID_INPUT naming the field, and
// nothing is stored; on both engines (PostgreSQL used to fail NUL with
// INTERNAL, SQLite to store it).
func TestBadCharactersRefusedAtTheEdge(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		u := e.Register(t)
		users := func() int { return e.App.DB.Client.User.Query().CountX(ctx) }
		before := users()
		for name, bad := range map[string]string{
			"NUL": "Li\x00Lei", "bell": "Li\aLei", "escape": "Li\x1b[31mLei", "newline": "Li\nLei", "tab": "Li\tLei",
			"DEL": "Li\x7fLei", "C1 NEL": "Li\u0085Lei", "RLO": "Li\u202eieL", "LRE": "\u202aLi", "PDF": "Li\u202c",
			"RLI": "Li\u2067Lei", "PDI": "Li\u2069", "replacement character": "Li\ufffdLei",
		} {
			in := map[string]any{"phone": testenv.NewPhone(), "password": "correct horse battery", "displayName": bad}
			refusedInput(t, "variable displayName "+name, e.Do(t, "", registerMutation, map[string]any{"in": in}), "input", "displayName")
		}
		// Literal strings, with the escapes of the GraphQL language.
		refusedInput(t, "literal displayName NUL", e.Do(t, "", `mutation { register(input: {phone: "`+testenv.NewPhone()+
			`", password: "correct horse battery", displayName: "Li\u0000Lei"}) { accessToken } }`, nil), "input", "displayName")
		refusedInput(t, "literal displayName RLO", e.Do(t, "", `mutation { register(input: {phone: "`+testenv.NewPhone()+
			`", password: "correct horse battery", displayName: "Li\u202Eiel"}) { accessToken } }`, nil), "input", "displayName")
		// A variable inside a literal object, and other inputs and types.
		refusedInput(t, "variable inside a literal", e.Do(t, "", `mutation($n: String!) { register(input: {phone: "`+testenv.NewPhone()+
			`", password: "correct horse battery", displayName: $n}) { accessToken } }`, map[string]any{"n": "a\x00"}), "input", "displayName")
		refusedInput(t, "password", e.Do(t, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"phone": u.Phone, "password": "correct horse\x00battery"}}), "input", "password")
		refusedInput(t, "phone", e.Do(t, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"phone": "+86\x00139", "password": "x"}}), "input", "phone")
		refusedInput(t, "holder name", e.Do(t, u.AccessToken, `mutation($in: LinkBankCardInput!) { linkBankCard(input: $in) { userErrors { code } } }`,
			map[string]any{"in": map[string]any{"cardNumber": "4242424242424242", "holderName": "LI\u202eLEI"}}), "input", "holderName")
		refusedInput(t, "nested field argument in a fragment", e.Do(t, u.AccessToken,
			`query($c: String) { ...F } fragment F on Query { me { transactions(first: 5, filter: {currency: $c}) { totalCount } } }`,
			map[string]any{"c": "CN\x00Y"}), "filter", "currency")
		refusedInput(t, "ID", e.Do(t, u.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": "usr_\x00"}), "id")
		refusedInput(t, "JSON value", e.Do(t, "", `mutation($c: JSON!) { finishPasskeyLogin(input: {credential: $c}) { accessToken } }`,
			map[string]any{"c": map[string]any{"id": "abc", "response": map[string]any{"clientDataJSON": "x\x00"}}}), "input", "credential", "response", "clientDataJSON")
		if n := users(); n != before {
			t.Fatalf("users %d, was %d: a refused registration was stored", n, before)
		}
		// Ordinary text, scripts other than Latin and a right-to-left name
		// without override characters, still passes.
		for _, ok := range []string{"李雷", "Zoë O'Brien", "محمد", "Łukasz 🐼"} {
			in := map[string]any{"phone": testenv.NewPhone(), "password": "correct horse battery", "displayName": ok}
			var out struct{ Register struct{ AccessToken string } }
			e.Do(t, "", registerMutation, map[string]any{"in": in}).Decode(t, &out)
			if out.Register.AccessToken == "" {
				t.Errorf("%q was not registered", ok)
			}
		}
	})
}

// TestDecimalIsAStringOnly: a Decimal given as a number, literal or
// variable, integer, float or exponent, is refused with INVALID_INPUT; the
// same amount as a string is taken.
func TestDecimalIsAStringOnly(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.RegisterVerified(t)
		card := linkCard(t, e, u, "4242424242424242")
		for name, amount := range map[string]any{"JSON integer": 1000, "JSON float": 12.5, "JSON exponent": json.Number("1e3")} {
			r := e.Do(t, u.AccessToken, topUpMutation, map[string]any{"in": map[string]any{"bankCardId": card, "amount": amount, "idempotencyKey": "n-" + name}})
			if got := r.Codes(); len(got) != 1 || got[0] != "INVALID_INPUT" {
				t.Errorf("variable %s: codes %v data %s", name, got, r.Data)
			}
		}
		for _, lit := range []string{"1000", "1e3", "12.5"} {
			r := e.Do(t, u.AccessToken, `mutation($card: ID!) { topUp(input: {bankCardId: $card, amount: `+lit+`, idempotencyKey: "lit-`+lit+`"}) { topUp { id } } }`,
				map[string]any{"card": card})
			if got := r.Codes(); len(got) != 1 || got[0] != "INVALID_INPUT" {
				t.Errorf("literal %s: codes %v data %s", lit, got, r.Data)
			}
		}
		if n := e.App.DB.Client.TopUp.Query().CountX(context.Background()); n != 0 {
			t.Fatalf("%d top-ups made from refused amounts", n)
		}
		r := moneyOp(t, e, u.AccessToken, topUpMutation, "topUp", map[string]any{"bankCardId": card, "amount": "1000", "idempotencyKey": "string"})
		if r.code() != "" {
			t.Fatalf("string amount: %+v", r)
		}
	})
}
