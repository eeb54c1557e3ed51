package loadtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"danbao/internal/loadtest"
	"danbao/internal/testenv"
)

func TestCheckLoopback(t *testing.T) {
	for u, ok := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost:1": true, "http://[::1]:9": true,
		"http://10.0.0.1:8080": false, "https://example.com": false, "ftp://127.0.0.1": false, "::": false,
	} {
		if err := loadtest.CheckLoopback(u); (err == nil) != ok {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestParseMix(t *testing.T) {
	m, err := loadtest.ParseMix("escrow=1, authorize=2,topup=0")
	if err != nil || m["escrow"] != 1 || m["authorize"] != 2 || m["topup"] != 0 {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"", "escrow=0", "escrow", "escrow=-1", "pay=1", "escrow=x"} {
		if _, err := loadtest.ParseMix(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestShortRun drives a real instance briefly with every operation of the
// mix: nothing fails, each authorization and release the API reported is
// one committed journal transaction, every top-up settles, and the ledger
// verifies.
func TestShortRun(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_MUTATION_RATE", "0"), testenv.WithoutRiskBursts())
		mix, err := loadtest.ParseMix("escrow=1,authorize=1,topup=1,history=1,hotseller=1")
		if err != nil {
			t.Fatal(err)
		}
		r, err := loadtest.Run(context.Background(), loadtest.Options{URL: e.Server.URL, Origin: e.Origin, Users: 3, Clients: 2,
			Duration: 1500 * time.Millisecond, Mix: mix, Probe: loadtest.DBProbe{Client: e.App.DB.Client}})
		if err != nil {
			t.Fatal(err)
		}
		t.Log("\n" + r.Report())
		if r.Users != 3 || r.Clients != 2 {
			t.Fatalf("users %d clients %d", r.Users, r.Clients)
		}
		for _, op := range []string{"setup/register", "setup/verify", "setup/linkCard", "setup/topUp", "setup/passkey",
			"escrow/create", "escrow/authorize", "escrow/ship", "escrow/confirm", "authorize/create", "authorize/authorize",
			"hotseller/create", "hotseller/authorize", "hotseller/ship", "hotseller/confirm", "topup", "history/first"} {
			s := r.Ops[op]
			if s == nil || s.Count == 0 || s.Errors != 0 {
				t.Fatalf("%s: %+v", op, s)
			}
		}
		count := func(ops ...string) int64 {
			var n int64
			for _, op := range ops {
				n += int64(r.Ops[op].Count)
			}
			return n
		}
		if got, want := r.Movements["PAYMENT"], count("escrow/authorize", "authorize/authorize", "hotseller/authorize"); got != want {
			t.Errorf("PAYMENT movements %d, authorizations %d", got, want)
		}
		if got, want := r.Movements["PAYMENT_RELEASE"], count("escrow/confirm", "hotseller/confirm"); got != want {
			t.Errorf("PAYMENT_RELEASE movements %d, confirmations %d", got, want)
		}
		if r.Movements["TOPUP"] > count("topup") {
			t.Errorf("TOPUP movements %d, top-ups asked %d", r.Movements["TOPUP"], count("topup"))
		}
		if r.PendingAfterWait != 0 {
			t.Errorf("%d top-ups still pending", r.PendingAfterWait)
		}
		if r.Verify == nil || len(r.Verify.Violations) != 0 || r.Verify.Transactions == 0 {
			t.Fatalf("verify: %+v", r.Verify)
		}
		if all, pay := r.MovementsPerSecond(); pay <= 0 || all < pay {
			t.Errorf("rates %f %f", all, pay)
		}
	})
}

// brokenLedger is a probe whose verification reports a violation.
type brokenLedger struct{ loadtest.DBProbe }

func (brokenLedger) Verify(context.Context) (*loadtest.Verification, error) {
	return &loadtest.Verification{Transactions: 1, Violations: []string{"balance: account x"}}, nil
}

// TestRunFailsOnViolation: a run whose verification finds a violation
// returns ErrViolations and reports it.
func TestRunFailsOnViolation(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_MUTATION_RATE", "0"), testenv.WithoutRiskBursts())
	mix, _ := loadtest.ParseMix("history=1")
	r, err := loadtest.Run(context.Background(), loadtest.Options{URL: e.Server.URL, Users: 1, Duration: 100 * time.Millisecond,
		Mix: mix, Probe: brokenLedger{loadtest.DBProbe{Client: e.App.DB.Client}}})
	if !errors.Is(err, loadtest.ErrViolations) || r == nil || len(r.Verify.Violations) != 1 {
		t.Fatalf("%v %+v", err, r)
	}
}
