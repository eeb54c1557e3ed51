package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"danbao/ent/topup"
	"danbao/internal/app"
	"danbao/internal/testenv"
)

// TestShutdownLeavesQueueForRecovery: while callbacks hang (a database
// that stopped answering, a handler that ignores cancellation), Shutdown
// still returns within its deadline, leaving every queued operation
// PENDING; the next instance on the same database re-sends all of them,
// in more batches than one, and each settles once.
func TestShutdownLeavesQueueForRecovery(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.RegisterVerified(t)
		card := linkCard(t, e, u, cardOK)
		hung := make(chan struct{})
		t.Cleanup(func() { close(hung) })
		e.App.Bank.SetHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hung }))
		const n = 40
		for i := range n {
			if r := topUp(t, e, u, card, "10", "k"+string(rune('A'+i))); r.code() != "" || r.Status != "PENDING" {
				t.Fatalf("top-up %d: %s %s", i, r.code(), r.Status)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := e.App.Shutdown(ctx); err != nil {
			t.Fatalf("shutdown: %v", err)
		}

		// The restart.
		next, err := app.New(context.Background(), e.App.Config, slog.New(slog.DiscardHandler), app.Options{PasswordParams: &testenv.CheapPasswords})
		if err != nil {
			t.Fatal(err)
		}
		defer next.Close()
		bg := context.Background()
		if got := next.DB.Client.TopUp.Query().Where(topup.StatusEQ(topup.StatusPENDING)).CountX(bg); got != n {
			t.Fatalf("%d top-ups PENDING after the stop, want %d", got, n)
		}
		found, err := next.RecoverPending(bg, time.Now(), 7)
		if err != nil || found != n {
			t.Fatalf("recovery found %d of %d: %v", found, n, err)
		}
		next.Bank.Drain()
		if got := next.DB.Client.TopUp.Query().Where(topup.StatusEQ(topup.StatusSUCCEEDED)).CountX(bg); got != n {
			t.Fatalf("%d of %d top-ups settled after recovery", got, n)
		}
		if again, err := next.RecoverPending(bg, time.Now(), 7); err != nil || again != 0 {
			t.Fatalf("a second recovery found %d: %v", again, err)
		}
		r, err := next.Ledger.Verify(bg)
		if err != nil || !r.OK() || r.Transactions != n {
			t.Fatalf("verify: %v %+v", err, r)
		}
	})
}
