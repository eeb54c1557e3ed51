package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"danbao/internal/config"
	"danbao/internal/loadtest"
)

// loadHistoryCommand runs `danbao load history`: it seeds one user's
// history on the configured database (which must be the server's) and
// measures the pages of me.transactions (loadtest.HistoryAtScale).
func loadHistoryCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load history", flag.ContinueOnError)
	target := fs.String("url", "http://"+cfg.Addr, "server base URL (loopback only); ignored with -serve")
	serveItself := fs.Bool("serve", false, "start a server (this binary) on the configured database and measure it")
	origin := fs.String("origin", "", "WebAuthn origin the server accepts (default http://localhost:PORT of the URL)")
	entries := fs.Int("entries", 1_000_000, "ledger entries to seed for the user")
	samples := fs.Int("samples", 200, "requests per measured case")
	budget := fs.Duration("case-budget", 30*time.Second, "most time spent on one case")
	reuse := fs.Bool("reuse", false, "measure the history an earlier run seeded on this database instead of seeding")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, stop, err := loadTarget(ctx, cfg, *serveItself, target, nil, stdout)
	if err != nil {
		return err
	}
	defer stop()
	var analyze func(context.Context) error
	if cfg.Postgres() {
		analyze = func(ctx context.Context) error {
			_, err := d.SQL.ExecContext(ctx, "ANALYZE postings, ledger_transactions, accounts")
			return err
		}
	}
	r, err := loadtest.HistoryAtScale(ctx, loadtest.HistoryOptions{URL: *target, Origin: *origin, Client: d.Client, AfterSeed: analyze,
		Entries: *entries, Samples: *samples, CaseBudget: *budget, Reuse: *reuse, Progress: func(s string) { fmt.Fprintln(stdout, s) }})
	if r != nil {
		fmt.Fprintf(stdout, "against %s (%s)\n%s", *target, dbName(cfg), r.Report())
	}
	if errors.Is(err, loadtest.ErrViolations) {
		fmt.Fprintln(stdout, "!!! LEDGER VERIFICATION FAILED AFTER SEEDING: see the violations above !!!")
	}
	return err
}
