package app_test

import (
	"regexp"
	"strconv"
	"testing"

	"danbao/internal/testenv"
)

// TestGroupCommitMetrics: on SQLite the metrics count the group commits
// and the transactions run in them (a sign-up writes in transactions);
// PostgreSQL has no group commit and reports zeros.
func TestGroupCommitMetrics(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		e.Register(t)
		text := metricsText(t, e)
		value := func(name string) float64 {
			m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("no %s in /metrics", name)
			}
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		groups, units := value("danbao_db_group_commits_total"), value("danbao_db_grouped_transactions_total")
		if d == testenv.SQLite && (groups < 1 || units < groups) {
			t.Fatalf("SQLite: %v group commits of %v transactions after a sign-up", groups, units)
		}
		if d == testenv.Postgres && (groups != 0 || units != 0) {
			t.Fatalf("PostgreSQL: %v group commits of %v transactions, want none", groups, units)
		}
	})
}
