package loadtest_test

import (
	"context"
	"testing"
	"time"

	"danbao/internal/loadtest"
	"danbao/internal/testenv"
)

// TestHistoryAtScale seeds a history over more than one batch, measures
// every case (each returns the entries it should: the tool counts a wrong
// count as an error) and the ledger verifies after the seeding, and after
// ordinary postings that follow it.
func TestHistoryAtScale(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_MUTATION_RATE", "0"), testenv.WithoutRiskBursts())
		r, err := loadtest.HistoryAtScale(context.Background(), loadtest.HistoryOptions{URL: e.Server.URL, Origin: e.Origin,
			Client: e.App.DB.Client, Entries: 6001, Samples: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Log("\n" + r.Report())
		if len(r.Cases) < 10 {
			t.Fatalf("%d cases", len(r.Cases))
		}
		for _, c := range r.Cases {
			if c.Errors != 0 || c.Samples != 2 {
				t.Errorf("%s: %+v", c.Name, c)
			}
		}
		if r.Verify == nil || r.Verify.Transactions < 6001 || len(r.Verify.Violations) != 0 {
			t.Fatalf("verify %+v", r.Verify)
		}
		// The chain continues: a payment flow posted after the seeding
		// verifies too, and a second measurement reuses the history.
		mix, _ := loadtest.ParseMix("escrow=1")
		lr, err := loadtest.Run(context.Background(), loadtest.Options{URL: e.Server.URL, Origin: e.Origin, Users: 1,
			Duration: 300 * time.Millisecond, Mix: mix, Probe: loadtest.DBProbe{Client: e.App.DB.Client}})
		if err != nil || lr.Movements["PAYMENT"] == 0 {
			t.Fatalf("load after seeding: %v %+v", err, lr)
		}
		r2, err := loadtest.HistoryAtScale(context.Background(), loadtest.HistoryOptions{URL: e.Server.URL, Origin: e.Origin,
			Client: e.App.DB.Client, Reuse: true, Samples: 1})
		if err != nil || r2.Entries != 6001 {
			t.Fatalf("reuse: %v %+v", err, r2)
		}
	})
}
