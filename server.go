// Command danbao is the danbao wallet backend: a GraphQL API over a
// double-entry ledger. With no arguments it serves (see README.md).
//
// Subcommands:
//
//	danbao [serve]                                   start the server
//	danbao migrate                                   apply pending migrations and exit
//	danbao operator create --phone P --password W    create an operator account
//	danbao ledger verify                             check every ledger invariant (exit 1 on a violation)
//	danbao kyc rotate-keys                           re-encrypt ID data under the current key
//	danbao load [-serve | -url U] [-users N] ...     drive the payment flow under load (loopback only)
//	danbao load history [-entries N]                 seed a long history and measure its pages
//	danbao help                                      list the commands (also -h, --help)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"danbao/ent"
	"danbao/internal/app"
	"danbao/internal/config"
	"danbao/internal/db"
	"danbao/internal/migrations"
	"danbao/internal/obs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tuneGC(os.Getenv)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "danbao:", err)
		os.Exit(1)
	}
}

// GC defaults, each used only when its Go variable (GOGC, GOMEMLIMIT) is
// not set. A request allocates mostly short-lived garbage over a small live
// heap (about 15 MiB under `danbao load`), so collecting at 3x the live
// heap instead of 2x halves the collector's share of the server's CPU
// (12 % to 6 %; about 7 % less CPU per operation in all), and the soft
// limit makes it collect earlier again when the heap nears 80 MiB (eight
// concurrent Argon2 password hashes, 19 MiB each, are the peak), keeping
// the RSS at 8 clients near 130 MiB on 2 cores. The hashes run one per
// core at most, so the limit grows with GOMAXPROCS: 40 MiB plus 20 MiB a
// core (80 MiB on 2 cores), never below what a burst of sign-ins holds.
const defaultGCPercent = 200

func defaultMemoryLimit() int64 { return (40 + 20*int64(runtime.GOMAXPROCS(0))) << 20 }

// tuneGC applies defaultGCPercent and defaultMemoryLimit unless GOGC or
// GOMEMLIMIT set them.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit())
	}
}

// usage is what `danbao help` (or -h, --help) prints: every subcommand,
// one line each. Keep it in step with run's switch and the package comment.
const usage = `danbao is the danbao wallet backend: a GraphQL API over a double-entry ledger.

Usage: danbao [command] [flags]

Commands:
  serve [-addr A] [-drain D]                  start the server (the default when no command is given)
  migrate                                     apply pending database migrations and exit
  operator create --phone P --password W      create an operator account (never possible through the API)
  ledger verify                               check every ledger invariant; exit status 1 on a violation
  kyc rotate-keys                             re-encrypt ID data under the newest DANBAO_KYC_KEYS version
  trust recount [-fix]                        recount every trust score's inputs from the payments; exit status 1 on a difference (-fix stores the recount)
  load [-serve | -url U] [-users N] [-mix M]  drive the payment flow under load and verify the ledger (loopback only)
  load history [-entries N]                   seed one user's history and measure its pages' p99
  help                                        print this text (also -h, --help)

Configuration comes from DANBAO_* environment variables and DATABASE_URL
(see README.md). "danbao COMMAND -h" lists a command's flags.
`

// run is the whole program: tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			_, err := io.WriteString(stdout, usage)
			return err
		}
	}
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, args)
	case "migrate":
		return migrate(ctx, cfg, stdout)
	case "operator":
		return operator(ctx, cfg, log, args, stdout)
	case "ledger":
		return ledgerCmd(ctx, cfg, log, args, stdout)
	case "kyc":
		return kycCommand(ctx, cfg, log, args, stdout)
	case "trust":
		return trustCommand(ctx, cfg, log, args, stdout)
	case "load":
		return loadCommand(ctx, cfg, args, stdout)
	default:
		return fmt.Errorf("unknown command %q (run \"danbao help\" for the list)", cmd)
	}
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(obs.ContextHandler{Handler: h})
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (DANBAO_ADDR)")
	drain := fs.Duration("drain", 0, "how long readiness fails before the listener closes on shutdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := httpServer(cfg, a.Handler(), log)
	db := "sqlite:" + cfg.DataDir
	if cfg.Postgres() {
		db = "postgres"
	}
	log.Info("danbao listening", "addr", "http://"+ln.Addr().String(), "database", db, "playground", cfg.Playground, "sandbox", cfg.Sandbox)
	if cfg.Playground {
		log.Info("playground at http://" + ln.Addr().String() + "/playground")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.DebugAddr != "" {
		// Profiles on their own listener and mux, never on the public one.
		dln, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("debug listener: %w", err)
		}
		dbg := &http.Server{Handler: app.DebugHandler(), ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout}
		defer dbg.Close()
		go func() { _ = dbg.Serve(dln) }()
		log.Warn("profiling listener on (net/http/pprof)", "addr", "http://"+dln.Addr().String()+"/debug/pprof/")
	}
	go a.Maintain(ctx, time.Minute)
	go a.Escrow.Run(ctx, cfg.SchedulerInterval) // escrow deadlines; safe on several instances
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Readiness fails first so that load balancers stop routing here; then
	// the listener closes and in-flight requests are given time to finish.
	log.Info("shutting down: readiness off, finishing in-flight requests")
	a.SetReady(false)
	time.Sleep(*drain)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	// The instance stops within the one deadline whatever is queued: the
	// sandbox bank's queued callbacks are left PENDING for recovery after
	// the restart (app.Maintain).
	defer func() { _ = a.Shutdown(sctx) }()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Subscription sockets are hijacked connections that Shutdown does not
	// track: close them with 1001 so that clients resume elsewhere.
	a.CloseSubscriptions()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := a.Shutdown(sctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

func migrate(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	d, err := openDB(cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := migrations.ApplyVerbose(ctx, d.SQL, d.Dialect)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s) %v\n", len(applied), applied)
	return nil
}

// openDB opens the configured database (without migrating it).
func openDB(cfg config.Config) (*db.DB, error) {
	if cfg.Postgres() {
		return db.OpenPostgres(cfg.DatabaseURL)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	return db.OpenSQLite(cfg.DataDir + "/danbao.db")
}

func operator(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: danbao operator create --phone P --password W")
	}
	fs := flag.NewFlagSet("operator create", flag.ContinueOnError)
	phone := fs.String("phone", "", "operator's phone (E.164)")
	password := fs.String("password", "", "operator's password (at least 10 characters)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Auth.CreateOperator(ctx, *phone, *password)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "operator %s created for %s\n", u.ID, u.Phone)
	return nil
}

// errViolations makes `ledger verify` exit non-zero.
var errViolations = errors.New("ledger invariants are broken")

func ledgerCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: danbao ledger verify")
	}
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Ledger.Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d journal transactions, %d accounts checked\n", r.Transactions, r.Accounts)
	for _, v := range r.Violations {
		fmt.Fprintf(stdout, "VIOLATION %s: %s\n", v.Kind, v.Message)
	}
	if !r.OK() {
		return errViolations
	}
	fmt.Fprintln(stdout, "ok: every transaction balances, cached balances match postings, the hash chain is intact, customer funds equal custody")
	return nil
}

// trustCommand runs "trust recount [-fix]": every stored trust score's
// counted inputs (kept by delta in the payment transitions) are compared
// with a full recount from the payments; each difference is printed, and
// with -fix the recount is stored. A difference left unfixed is
// errViolations (exit status 1).
func trustCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "recount" {
		return errors.New("usage: danbao trust recount [-fix]")
	}
	fs := flag.NewFlagSet("trust recount", flag.ContinueOnError)
	fix := fs.Bool("fix", false, "store the recount of every row that differs")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	counts := func(r *ent.TrustScore) string {
		return fmt.Sprintf("trades %d, sales %d, refunds %d, lost disputes %d", r.CompletedTrades, r.CompletedSales, r.Refunds, r.LostDisputes)
	}
	checked, differ, err := a.Trust.CheckAll(ctx, *fix, func(stored, full *ent.TrustScore) {
		fmt.Fprintf(stdout, "DIFFERENCE %s: stored %s; recounted %s\n", stored.UserID, counts(stored), counts(full))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d trust scores checked, %d differed", checked, differ)
	if *fix && differ > 0 {
		fmt.Fprint(stdout, " (recount stored)")
	}
	fmt.Fprintln(stdout)
	if differ > 0 && !*fix {
		return errViolations
	}
	return nil
}

// kycCommand runs "kyc rotate-keys": every stored verification encrypted
// under an older key version is re-encrypted under the current one. (Bank
// card holder names are re-sealed by every start-up, this one included:
// see wallet.SealHolderNames.)
func kycCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "rotate-keys" {
		return errors.New("usage: danbao kyc rotate-keys")
	}
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	n, err := a.RealName.RotateKeys(ctx, 100)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-encrypted %d verification(s) under the current key\n", n)
	return nil
}

// httpServer is the HTTP server of an instance, with the configured
// timeouts: slow clients cannot hold a connection open by trickling
// headers or a body, nor by reading the response slowly.
func httpServer(cfg config.Config, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
