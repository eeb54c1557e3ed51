package ledger_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/db"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// TestReviewTwoClientsOneSQLiteFile: two clients on one SQLite file (two
// `danbao serve` on one data directory), each with its own group
// committer, transfer at once between the same wallets: the groups meet
// in SQLite's busy handler, yet no transfer fails but for insufficient
// funds, money is conserved and the ledger verifies.
func TestReviewTwoClientsOneSQLiteFile(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	var seq int
	var name, file string
	if err := e.App.DB.SQL.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	other, err := db.Open(ctx, "", filepath.Dir(file))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	ledgers := []*ledger.Service{e.App.Ledger, ledger.New(other.Client)}
	u := users(t, e, 6)
	for _, id := range u {
		fund(t, e, id, 1000)
	}
	var wg sync.WaitGroup
	const n = 300
	errs := make([]error, n)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range n {
		a, b := rng.IntN(len(u)), rng.IntN(len(u)-1)
		if b >= a {
			b++
		}
		amount := 1 + rng.Int64N(300)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ledgers[i%2].Transfer(ctx, ledger.TransferInput{From: u[a], To: u[b], Amount: amount, Currency: money.CNY})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !apperr.Is(err, apperr.InsufficientFunds) {
			t.Errorf("transfer: %v", err)
		}
	}
	var total int64
	for _, id := range u {
		total += balance(t, e, pulid.ID(id))
	}
	if total != int64(len(u))*1000 {
		t.Fatalf("total %d, want %d", total, len(u)*1000)
	}
	if r := mustVerify(t, e); r.Transactions != len(u)+ok {
		t.Fatalf("%d journal transactions, want %d", r.Transactions, len(u)+ok)
	}
	t.Logf("%d of %d transfers", ok, n)
}
