package app_test

import (
	"fmt"
	"slices"
	"testing"

	"danbao/internal/page"
	"danbao/internal/testenv"
)

// TestOnePaginationRule: every connection refuses first or last outside
// 0..page.Max, and first with last, with INVALID_INPUT whose field is the
// argument as the client wrote it; a page with neither argument holds
// page.Default items.
func TestOnePaginationRule(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := e.RegisterVerified(t)
	op := e.Operator(t)
	card := linkCard(t, e, u, cardOK)
	for i := 0; i < page.Default+2; i++ {
		topUp(t, e, u, card, "1", fmt.Sprintf("k%d", i))
	}
	e.App.Bank.Drain()
	connections := []struct {
		name, token, query string
		backward           bool
	}{
		{"transactions", u.AccessToken, `{ me { transactions(%s) { edges { cursor } } } }`, true},
		{"passkeys", u.AccessToken, `{ me { passkeys(%s) { edges { cursor } } } }`, true},
		{"pendingVerifications", op.AccessToken, `{ pendingVerifications(%s) { edges { cursor } } }`, false},
	}
	for _, c := range connections {
		cases := []struct{ args, field string }{
			{"first: 101", "first"},
			{"first: -1", "first"},
		}
		if c.backward {
			cases = append(cases, struct{ args, field string }{"last: 101", "last"},
				struct{ args, field string }{"last: -1", "last"},
				struct{ args, field string }{"first: 1, last: 1", "last"})
		}
		for _, tc := range cases {
			r := e.Do(t, c.token, fmt.Sprintf(c.query, tc.args), nil)
			if len(r.Errors) != 1 || r.Errors[0].Code() != "INVALID_INPUT" {
				t.Errorf("%s(%s): %v", c.name, tc.args, r.Codes())
				continue
			}
			field, _ := r.Errors[0].Extensions["field"].([]any)
			if !slices.Equal(field, []any{tc.field}) {
				t.Errorf("%s(%s): field %v, want [%s]", c.name, tc.args, field, tc.field)
			}
		}
		for _, args := range []string{"first: 0", "first: 100"} {
			if r := e.Do(t, c.token, fmt.Sprintf(c.query, args), nil); len(r.Errors) != 0 {
				t.Errorf("%s(%s): %v", c.name, args, r.Codes())
			}
		}
	}
	// The default page: 20 of the 22 top-ups.
	var out struct {
		Me struct {
			Transactions struct {
				Edges    []struct{ Cursor string }
				PageInfo struct{ HasNextPage bool }
			}
		}
	}
	e.Do(t, u.AccessToken, `{ me { transactions { edges { cursor } pageInfo { hasNextPage } } } }`, nil).Decode(t, &out)
	if n := len(out.Me.Transactions.Edges); n != page.Default || !out.Me.Transactions.PageInfo.HasNextPage {
		t.Errorf("default page: %d entries, hasNextPage %v; want %d, true", n, out.Me.Transactions.PageInfo.HasNextPage, page.Default)
	}
}
