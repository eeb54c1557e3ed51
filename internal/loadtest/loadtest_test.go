package loadtest_test

import (
	"context"
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

// TestShortRun drives a real instance briefly: every operation succeeds
// and the ledger holds after.
func TestShortRun(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	r, err := loadtest.Run(context.Background(), loadtest.Options{URL: e.Server.URL, Users: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"register", "verify", "linkCard", "topUp", "balances", "history"} {
		s := r.Ops[op]
		if s == nil || s.Count == 0 || s.Errors != 0 {
			t.Fatalf("%s: %+v", op, s)
		}
	}
	e.App.Bank.Drain()
	if rep, err := e.App.Ledger.Verify(context.Background()); err != nil || !rep.OK() {
		t.Fatalf("verify after load: %v %+v", err, rep)
	}
	t.Log("\n" + r.Report())
}
