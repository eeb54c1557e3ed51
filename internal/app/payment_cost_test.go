package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"danbao/internal/app"
	"danbao/internal/testenv"

	"github.com/99designs/gqlgen/graphql"
)

// statementCounter counts, per GraphQL operation, the statements the ent
// client sends (BEGIN and COMMIT included) while it is armed; background
// loops have no operation context and are not counted.
type statementCounter struct {
	mu    sync.Mutex
	armed bool
	n     int
	seen  []string
}

func (c *statementCounter) trace(ctx context.Context, s string) {
	if !graphql.HasOperationContext(ctx) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed {
		c.n++
		c.seen = append(c.seen, s)
	}
}

// count runs f and returns how many statements it sent.
func (c *statementCounter) count(f func()) (int, []string) {
	c.mu.Lock()
	c.armed, c.n, c.seen = true, 0, nil
	c.mu.Unlock()
	f()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	return c.n, c.seen
}

// TestPaymentStatementBudget: each step of an escrow payment sends at most
// its budget of statements to the database (queries, executions, BEGIN and
// COMMIT), on both engines. The budgets are what the steps cost after the
// work on issue 13, per engine; a change that adds a round trip to a hot
// path fails here and has to say why (docs/architecture.md, Performance).
func TestPaymentStatementBudget(t *testing.T) {
	budgets := map[testenv.Dialect]map[string]int{
		testenv.SQLite: {"createPayment": 11, "authorizePayment": 21, "markShipped": 8, "confirmReceipt": 17},
		// authorizePayment: the passkey's session and passkeys read by one
		// statement before the transaction, which spends the challenge
		// (the session's DELETE and the counter's update) with the money.
		testenv.Postgres: {"createPayment": 10, "authorizePayment": 15, "markShipped": 7, "confirmReceipt": 10},
	}
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		budget := budgets[d]
		c := &statementCounter{}
		e := newEscrowEnv(t, d, testenv.WithOptions(func(o *app.Options) { o.Trace = c.trace }))
		seller := e.RegisterVerified(t)
		b := e.buyer(t, "500.00")
		e.pay(t, b, seller, "1.00") // the first payment creates rows later ones reuse
		for round := 0; round < 2; round++ {
			var cr, ar result
			got := map[string]int{}
			var seen = map[string][]string{}
			got["createPayment"], seen["createPayment"] = c.count(func() { cr = e.create(t, b, seller, "5.00", "cost-c-"+string(rune('a'+round))) })
			if cr.code() != "" {
				t.Fatal(cr)
			}
			got["authorizePayment"], seen["authorizePayment"] = c.count(func() { ar = e.authorize(t, b, cr.Payment.ID, cr.Options, "cost-a-"+cr.Payment.ID) })
			if ar.code() != "" || ar.Payment.Status != "PAID" {
				t.Fatal(ar)
			}
			var sr, fr result
			got["markShipped"], seen["markShipped"] = c.count(func() { sr = e.ship(t, seller, cr.Payment.ID) })
			got["confirmReceipt"], seen["confirmReceipt"] = c.count(func() { fr = e.confirm(t, b.User, cr.Payment.ID) })
			if sr.code() != "" || fr.code() != "" {
				t.Fatal(sr, fr)
			}
			if round == 0 {
				continue // the first sale and confirmation create rows later ones reuse
			}
			for op, n := range got {
				t.Logf("%s %s: %d statements", d, op, n)
				if n > budget[op] {
					t.Errorf("%s %s sent %d statements, over its budget of %d:\n%s", d, op, n, budget[op], strings.Join(seen[op], "\n"))
				}
			}
		}
	})
}
