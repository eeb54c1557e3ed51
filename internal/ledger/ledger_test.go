package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/posting"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// fund credits a user's available balance from custody, as a successful
// top-up does.
func fund(t testing.TB, e *testenv.Env, user pulid.ID, amount int64) {
	t.Helper()
	l := e.App.Ledger
	err := dbtx.WithTx(context.Background(), e.App.DB.Client, func(tx *ent.Tx) error {
		custody, err := l.PlatformAccount(context.Background(), tx, ledger.KindCustody, money.CNY)
		if err != nil {
			return err
		}
		acct, err := l.UserAccount(context.Background(), tx, user, money.CNY)
		if err != nil {
			return err
		}
		_, err = l.Post(context.Background(), tx, ledger.Entry{Kind: "TOPUP", Currency: money.CNY,
			Legs: []ledger.Leg{ledger.On(custody, -amount), ledger.On(acct, amount)}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func balance(t testing.TB, e *testenv.Env, user pulid.ID) int64 {
	t.Helper()
	accts, err := e.App.Ledger.UserAccounts(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) == 0 {
		return 0
	}
	return accts[0].Balance
}

func mustVerify(t testing.TB, e *testenv.Env) *ledger.Report {
	t.Helper()
	r, err := e.App.Ledger.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("ledger invariants broken: %+v", r.Violations)
	}
	return r
}

func users(t testing.TB, e *testenv.Env, n int) []pulid.ID {
	out := make([]pulid.ID, n)
	for i := range out {
		out[i] = pulid.ID(e.Register(t).ID)
	}
	return out
}

// TestConcurrentDebitsNeverOverdraw: an account with 100 and 100 concurrent
// debits of 100 gives exactly one success and 99 INSUFFICIENT_FUNDS.
func TestConcurrentDebitsNeverOverdraw(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := users(t, e, 2)
		fund(t, e, u[0], 100)
		var wg sync.WaitGroup
		results := make([]error, 100)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = e.App.Ledger.Transfer(context.Background(), ledger.TransferInput{From: u[0], To: u[1], Amount: 100, Currency: money.CNY})
			}()
		}
		wg.Wait()
		var ok, insufficient int
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case apperr.Is(err, apperr.InsufficientFunds):
				insufficient++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || insufficient != 99 {
			t.Fatalf("%d successes and %d INSUFFICIENT_FUNDS, want 1 and 99", ok, insufficient)
		}
		if b0, b1 := balance(t, e, u[0]), balance(t, e, u[1]); b0 != 0 || b1 != 100 {
			t.Fatalf("balances %d and %d, want 0 and 100", b0, b1)
		}
		mustVerify(t, e)
	})
}

// TestConcurrentRandomTransfers: 20 accounts, 500 concurrent random
// transfers; the total is constant, no deadlock surfaces, and every
// invariant holds after.
func TestConcurrentRandomTransfers(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := users(t, e, 20)
		for _, id := range u {
			fund(t, e, id, 1000)
		}
		rng := rand.New(rand.NewPCG(42, uint64(len(d))))
		type transfer struct {
			from, to pulid.ID
			amount   int64
		}
		plan := make([]transfer, 500)
		for i := range plan {
			a, b := rng.IntN(20), rng.IntN(19)
			if b >= a {
				b++
			}
			plan[i] = transfer{u[a], u[b], 1 + rng.Int64N(400)}
		}
		var wg sync.WaitGroup
		errs := make([]error, len(plan))
		for i, p := range plan {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.App.Ledger.Transfer(context.Background(), ledger.TransferInput{From: p.from, To: p.to, Amount: p.amount, Currency: money.CNY})
			}()
		}
		wg.Wait()
		var ok int
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !apperr.Is(err, apperr.InsufficientFunds) {
				t.Errorf("transfer failed with %v (deadlocks and busy errors must not surface)", err)
			}
		}
		var total int64
		for _, id := range u {
			b := balance(t, e, id)
			if b < 0 {
				t.Errorf("negative balance %d", b)
			}
			total += b
		}
		if total != 20*1000 {
			t.Fatalf("total %d, want %d", total, 20*1000)
		}
		r := mustVerify(t, e)
		if r.Transactions != 20+ok {
			t.Fatalf("%d journal transactions, want %d", r.Transactions, 20+ok)
		}
		t.Logf("%s: %d of 500 transfers succeeded", d, ok)
	})
}

func TestPostRefusesBrokenEntries(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := users(t, e, 1)
	fund(t, e, u[0], 500)
	ctx := context.Background()
	accounts := func(tx *ent.Tx) (cny, usd, fees *ent.Account, err error) {
		if cny, err = e.App.Ledger.UserAccount(ctx, tx, u[0], money.CNY); err != nil {
			return
		}
		if usd, err = e.App.Ledger.PlatformAccount(ctx, tx, ledger.KindCustody, money.USD); err != nil {
			return
		}
		fees, err = e.App.Ledger.PlatformAccount(ctx, tx, ledger.KindFees, money.CNY)
		return
	}
	cases := map[string]func(cny, usd, fees *ent.Account) ledger.Entry{
		"unbalanced": func(cny, usd, fees *ent.Account) ledger.Entry {
			return ledger.Entry{Kind: "X", Currency: money.CNY, Legs: []ledger.Leg{ledger.On(cny, -10), ledger.On(fees, 9)}}
		},
		"mixed currency": func(cny, usd, fees *ent.Account) ledger.Entry {
			return ledger.Entry{Kind: "X", Currency: money.CNY, Legs: []ledger.Leg{ledger.On(cny, -10), ledger.On(usd, 10)}}
		},
		"single leg": func(cny, usd, fees *ent.Account) ledger.Entry {
			return ledger.Entry{Kind: "X", Currency: money.CNY, Legs: []ledger.Leg{ledger.On(cny, 0)}}
		},
		"fees below zero": func(cny, usd, fees *ent.Account) ledger.Entry {
			return ledger.Entry{Kind: "X", Currency: money.CNY, Legs: []ledger.Leg{ledger.On(fees, -10), ledger.On(cny, 10)}}
		},
	}
	for name, mk := range cases {
		// As every caller does, the transaction rolls back when Post fails.
		err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
			cny, usd, fees, err := accounts(tx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.App.Ledger.Post(ctx, tx, mk(cny, usd, fees))
			return err
		})
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if apperr.Is(err, apperr.InsufficientFunds) {
			t.Errorf("%s: refused as insufficient funds, not as a broken rule", name)
		}
	}
	if b := balance(t, e, u[0]); b != 500 {
		t.Fatalf("balance %d after refused entries", b)
	}
	mustVerify(t, e)
}

func TestHistoryIsAppendOnly(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := users(t, e, 1)
	fund(t, e, u[0], 100)
	ctx := context.Background()
	p, err := e.App.DB.Client.Posting.Query().First(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.DB.Client.Posting.Delete().Where(posting.ID(p.ID)).Exec(ctx); err == nil {
		t.Fatal("posting deleted")
	}
	if _, err := e.App.DB.Client.LedgerTransaction.Delete().Exec(ctx); err == nil {
		t.Fatal("transactions deleted")
	}
	mustVerify(t, e)
}

// TestVerifyFindsTampering alters history behind the ledger's back, the way
// only direct database access could, and expects each kind of violation.
func TestVerifyFindsTampering(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		for _, c := range []struct {
			name, sql string
			kinds     []string
		}{
			{"posting amount", "UPDATE postings SET amount = amount + 1 WHERE seq = 1 AND amount > 0", []string{"UNBALANCED", "BALANCE_MISMATCH", "HASH_CHAIN"}},
			{"cached balance", "UPDATE accounts SET balance = balance + 5 WHERE kind = 'AVAILABLE'", []string{"BALANCE_MISMATCH", "CUSTODY_MISMATCH"}},
			{"memo", "UPDATE ledger_transactions SET memo = 'rewritten' WHERE seq = 2", []string{"HASH_CHAIN"}},
			{"removed transaction", "DELETE FROM postings WHERE seq = 2", []string{"UNBALANCED", "BALANCE_MISMATCH"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := testenv.New(t, d)
				u := users(t, e, 2)
				fund(t, e, u[0], 100)
				if _, err := e.App.Ledger.Transfer(context.Background(), ledger.TransferInput{From: u[0], To: u[1], Amount: 30, Currency: money.CNY}); err != nil {
					t.Fatal(err)
				}
				mustVerify(t, e)
				if _, err := e.App.DB.SQL.Exec(c.sql); err != nil {
					t.Fatal(err)
				}
				r, err := e.App.Ledger.Verify(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				found := map[string]bool{}
				for _, v := range r.Violations {
					found[v.Kind] = true
				}
				for _, k := range c.kinds {
					if !found[k] {
						t.Errorf("no %s violation in %+v", k, r.Violations)
					}
				}
			})
		}
	})
}

func TestCustodyReport(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := users(t, e, 2)
		fund(t, e, u[0], 12345)
		fund(t, e, u[1], 655)
		today := time.Now().UTC().Format(time.DateOnly)
		yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
		days, err := e.App.Ledger.CustodyReport(context.Background(), yesterday, today)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 2 {
			t.Fatalf("%d days: %+v", len(days), days)
		}
		y, d0 := days[0], days[1]
		if y.Date != yesterday || y.ClosingCustody != 0 || y.Difference != 0 {
			t.Errorf("yesterday %+v", y)
		}
		if d0.Date != today || d0.OpeningCustody != 0 || d0.ClosingCustody != 13000 || d0.CustomerFunds != 13000 || d0.PlatformFunds != 0 || d0.Difference != 0 {
			t.Errorf("today %+v", d0)
		}
		// A fee taken from a customer is the platform's money: still held in
		// full, the difference stays zero.
		err = dbtx.WithTx(context.Background(), e.App.DB.Client, func(tx *ent.Tx) error {
			fees, err := e.App.Ledger.PlatformAccount(context.Background(), tx, ledger.KindFees, money.CNY)
			if err != nil {
				return err
			}
			acct, err := e.App.Ledger.UserAccount(context.Background(), tx, u[0], money.CNY)
			if err != nil {
				return err
			}
			_, err = e.App.Ledger.Post(context.Background(), tx, ledger.Entry{Kind: "PAYMENT_RELEASE", Currency: money.CNY,
				Legs: []ledger.Leg{ledger.On(acct, -45), ledger.On(fees, 45)}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		days, err = e.App.Ledger.CustodyReport(context.Background(), today, today)
		if err != nil {
			t.Fatal(err)
		}
		if d := days[0]; d.CustomerFunds != 12955 || d.PlatformFunds != 45 || d.Custody != 13000 || d.Difference != 0 {
			t.Errorf("after a fee %+v", d)
		}
		for _, bad := range [][2]string{{"2026-13-01", today}, {today, yesterday}, {"2020-01-01", "2026-01-01"}, {"yesterday", today}} {
			if _, err := e.App.Ledger.CustodyReport(context.Background(), bad[0], bad[1]); !apperr.Is(err, apperr.InvalidInput) {
				t.Errorf("%v: %v", bad, err)
			}
		}
	})
}

func BenchmarkTransfer(b *testing.B) {
	e := testenv.New(b, testenv.SQLite)
	u := users(b, e, 2)
	fund(b, e, u[0], int64(b.N)+1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.App.Ledger.Transfer(context.Background(), ledger.TransferInput{From: u[0], To: u[1], Amount: 1, Currency: money.CNY}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if r, _ := e.App.Ledger.Verify(context.Background()); !r.OK() {
		b.Fatal(fmt.Sprint(r.Violations))
	}
}

// TestPlatformDebitRefusedAtFlush: a debit a platform account does not
// cover is refused when the transaction flushes (where platform legs are
// applied), whether the account is the only platform account of the
// transaction, the first of two in ID order or the last (on PostgreSQL the
// last one's update goes in the counter's statement); the transaction rolls back
// whole: no balance, journal row or sequence number changes.
func TestPlatformDebitRefusedAtFlush(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		u := users(t, e, 1)[0]
		fund(t, e, u, 500)
		c := e.App.DB.Client
		platform := func(kind string) *ent.Account {
			var a *ent.Account
			if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) (err error) {
				a, err = e.App.Ledger.PlatformAccount(ctx, tx, kind, money.CNY)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return a
		}
		escrow, fees := platform(ledger.KindEscrow), platform(ledger.KindFees)
		// Fees gets 50 from the user, so that only the escrow leg can fail.
		if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			acct, err := e.App.Ledger.UserAccount(ctx, tx, u, money.CNY)
			if err != nil {
				return err
			}
			_, err = e.App.Ledger.Post(ctx, tx, ledger.Entry{Kind: "TEST_FEE", Currency: money.CNY,
				Legs: []ledger.Leg{ledger.On(acct, -50), ledger.On(fees, 50)}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		before := mustVerify(t, e)
		for name, legs := range map[string]func(user *ent.Account) []ledger.Leg{
			"escrow alone": func(user *ent.Account) []ledger.Leg {
				return []ledger.Leg{ledger.On(escrow, -100), ledger.On(user, 100)}
			},
			"escrow refused, fees covered": func(user *ent.Account) []ledger.Leg {
				return []ledger.Leg{ledger.On(escrow, -100), ledger.On(fees, -10), ledger.On(user, 110)}
			},
			"escrow credited, fees refused": func(user *ent.Account) []ledger.Leg {
				return []ledger.Leg{ledger.On(escrow, 10), ledger.On(fees, -60), ledger.On(user, 50)}
			},
		} {
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				acct, err := e.App.Ledger.UserAccount(ctx, tx, u, money.CNY)
				if err != nil {
					return err
				}
				_, err = e.App.Ledger.Post(ctx, tx, ledger.Entry{Kind: "TEST_REFUND", Currency: money.CNY, Legs: legs(acct)})
				return err
			})
			if err == nil {
				t.Fatalf("%s: a debit a platform account does not cover was applied", name)
			}
			for _, a := range []*ent.Account{escrow, fees} {
				got, err := c.Account.Get(ctx, a.ID)
				if err != nil {
					t.Fatal(err)
				}
				if want := map[string]int64{ledger.KindEscrow: 0, ledger.KindFees: 50}[string(a.Kind)]; got.Balance != want {
					t.Fatalf("%s: %s balance %d after the refusal, want %d", name, a.Kind, got.Balance, want)
				}
			}
			if b := balance(t, e, u); b != 450 {
				t.Fatalf("%s: user balance %d after the refusal, want 450", name, b)
			}
			if after := mustVerify(t, e); after.Transactions != before.Transactions {
				t.Fatalf("%s: %d journal transactions after the refusal, want %d", name, after.Transactions, before.Transactions)
			}
		}
	})
}

// TestChainAcrossFlushes: journal transactions with a memo, evidence,
// a reference and a platform leg, flushed one per transaction (on
// PostgreSQL the chain's hash is then computed in SQL, flushOne) and
// several in one transaction (hashed in Go), interleaved, form one chain
// that verifies, with the stored hash equal to Go's Hash of the content
// and the posted values (seq, time, hashes) those of the stored rows.
func TestChainAcrossFlushes(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		l := e.App.Ledger
		u := users(t, e, 2)
		fund(t, e, u[0], 1000)
		post := func(n int) []*ledger.Posted {
			var out []*ledger.Posted
			if err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
				out = nil
				from, err := l.UserAccount(ctx, tx, u[0], money.CNY)
				if err != nil {
					return err
				}
				escrow, err := l.PlatformAccount(ctx, tx, ledger.KindEscrow, money.CNY)
				if err != nil {
					return err
				}
				for i := range n {
					p, err := l.Post(ctx, tx, ledger.Entry{Kind: "PAYMENT", Currency: money.CNY, RefID: u[1],
						Memo: fmt.Sprintf("货款 %d «x»", i), Evidence: map[string]any{"b": []any{1, "二"}, "a": map[string]any{"z": true}},
						Legs: []ledger.Leg{ledger.On(from, -7), ledger.On(escrow, 7)}})
					if err != nil {
						return err
					}
					out = append(out, p)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return out
		}
		var all []*ledger.Posted
		for _, n := range []int{1, 2, 1, 3, 1} {
			all = append(all, post(n)...)
		}
		mustVerify(t, e)
		for _, p := range all {
			row, err := e.App.DB.Client.LedgerTransaction.Get(ctx, p.Transaction.ID)
			if err != nil {
				t.Fatal(err)
			}
			c := ledger.Content{Seq: row.Seq, Kind: row.Kind, Currency: row.Currency, RefID: string(row.RefID),
				Memo: row.Memo, CreatedAt: row.CreatedAt, Evidence: row.Evidence}
			for _, leg := range p.Postings {
				c.Postings = append(c.Postings, ledger.PostingContent{AccountID: string(leg.AccountID), Amount: leg.Amount})
			}
			if h := ledger.Hash(row.PrevHash, c); string(h) != string(row.Hash) {
				t.Errorf("seq %d: stored hash is not Hash of its content", row.Seq)
			}
			if p.Transaction.Seq != row.Seq || !p.Transaction.CreatedAt.Equal(row.CreatedAt) ||
				string(p.Transaction.Hash) != string(row.Hash) || string(p.Transaction.PrevHash) != string(row.PrevHash) {
				t.Errorf("seq %d: posted values %d %v differ from the row's %d %v", row.Seq, p.Transaction.Seq, p.Transaction.CreatedAt, row.Seq, row.CreatedAt)
			}
			for _, leg := range p.Postings {
				stored, err := e.App.DB.Client.Posting.Get(ctx, leg.ID)
				if err != nil {
					t.Fatal(err)
				}
				if stored.BalanceAfter != leg.BalanceAfter || stored.Seq != leg.Seq || stored.Day != leg.Day {
					t.Errorf("posting %s: posted %d/%d/%s, stored %d/%d/%s", leg.ID, leg.BalanceAfter, leg.Seq, leg.Day, stored.BalanceAfter, stored.Seq, stored.Day)
				}
			}
		}
	})
}

// TestFlushWithoutCounterCommitsNothing: with the ledger's counter row
// gone, a posting fails and changes no balance, on both engines (on
// PostgreSQL the flush's one statement goes with the COMMIT, so it must
// fail by itself rather than return no row).
func TestFlushWithoutCounterCommitsNothing(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := users(t, e, 2)
		fund(t, e, u[0], 100)
		if _, err := e.App.DB.SQL.Exec("DELETE FROM counters WHERE id = 'ledger'"); err != nil {
			t.Fatal(err)
		}
		_, err := e.App.Ledger.Transfer(context.Background(), ledger.TransferInput{From: u[0], To: u[1], Amount: 30, Currency: money.CNY})
		if err == nil {
			t.Fatal("a transfer was posted without the ledger's counter")
		}
		if b0, b1 := balance(t, e, u[0]), balance(t, e, u[1]); b0 != 100 || b1 != 0 {
			t.Fatalf("balances %d and %d after the failed transfer, want 100 and 0", b0, b1)
		}
	})
}
