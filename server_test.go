package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"danbao/internal/migrations"
	"danbao/internal/testenv"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeAndGracefulShutdown runs the binary's run() as `make run` does
// (no arguments, defaults but for the address and data directory), checks
// that it serves, then cancels it as SIGTERM would: readiness must fail
// while it drains, and run must return cleanly.
func TestServeAndGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	addr, debug := freeAddr(t), freeAddr(t)
	env := map[string]string{"DANBAO_ADDR": addr, "DANBAO_DATA_DIR": dir, "DANBAO_DEBUG_ADDR": debug}
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-drain", "400ms"}, func(k string) string { return env[k] }, out)
	}()

	base := "http://" + addr
	var resp *http.Response
	var err error
	for i := 0; i < 100; i++ {
		if resp, err = http.Get(base + "/readyz"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("server did not come up: %v\n%s", err, out.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("readyz %d", resp.StatusCode)
	}
	if resp, err := http.Get(base + "/playground"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("playground not served by default: %v", err)
	}
	// Profiles are served on the debug listener only.
	if resp, err := http.Get("http://" + debug + "/debug/pprof/cmdline"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("debug listener: %v", err)
	}
	if resp, err := http.Get(base + "/debug/pprof/cmdline"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("profiles on the public listener: %v", err)
	}
	// The development signing key was created in the data directory.
	if fi, err := os.Stat(filepath.Join(dir, "jwt-es256.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("development signing key: %v", err)
	}

	cancel()
	time.Sleep(100 * time.Millisecond)
	resp, err = http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("listener closed before draining: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining: %d", resp.StatusCode)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Fatalf("no clean stop in the log:\n%s", out.String())
	}
}

func TestOperatorCreate(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DANBAO_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	err := run(context.Background(), []string{"operator", "create", "--phone", "+8613700000001", "--password", "operator password"}, getenv, &out)
	if err != nil || !strings.Contains(out.String(), "operator usr_") {
		t.Fatalf("operator create: %v\n%s", err, out.String())
	}
	// The same phone again is refused.
	if err := run(context.Background(), []string{"operator", "create", "--phone", "+8613700000001", "--password", "operator password"}, getenv, &out); err == nil {
		t.Fatal("duplicate operator accepted")
	}
	if err := run(context.Background(), []string{"operator", "create", "--phone", "nope", "--password", "operator password"}, getenv, &out); err == nil {
		t.Fatal("malformed phone accepted")
	}
}

func TestMigrateCommandAndBadConfig(t *testing.T) {
	env := map[string]string{"DANBAO_DATA_DIR": t.TempDir()}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied") {
		t.Fatalf("migrate printed %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil || !strings.Contains(out.String(), "applied 0") {
		t.Fatalf("second migrate: %v %q", err, out.String())
	}
	env["DANBAO_AUTO_CONFIRM_AFTER"] = "ten days"
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &out)
	if err == nil || !strings.Contains(err.Error(), "DANBAO_AUTO_CONFIRM_AFTER") {
		t.Fatalf("bad duration: %v", err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &out); err == nil {
		t.Fatal("unknown command accepted")
	}
}

func TestLedgerVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DANBAO_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"ledger", "verify"}, getenv, &out); err != nil || !strings.Contains(out.String(), "ok:") {
		t.Fatalf("clean ledger: %v\n%s", err, out.String())
	}
	// Corrupt a cached balance behind the ledger's back: verify must fail.
	sdb, err := sql.Open("sqlite", filepath.Join(dir, "danbao.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdb.Exec(`INSERT INTO accounts (id, key, kind, currency, balance, created_at, updated_at) VALUES ('acc_01J00000000000000000000000', 'platform:FEES:CNY', 'FEES', 'CNY', 7, '2026-01-01 00:00:00', '2026-01-01 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	sdb.Close()
	out.Reset()
	err = run(context.Background(), []string{"ledger", "verify"}, getenv, &out)
	if !errors.Is(err, errViolations) || !strings.Contains(out.String(), "VIOLATION BALANCE_MISMATCH") {
		t.Fatalf("corrupted ledger: %v\n%s", err, out.String())
	}
}

// TestTrustRecountCommand: a trust score row whose counts differ from its
// user's payments is reported (exit status 1), -fix stores the recount,
// and the next run finds nothing.
func TestTrustRecountCommand(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DANBAO_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"trust", "recount"}, getenv, &out); err != nil || !strings.Contains(out.String(), "0 trust scores checked, 0 differed") {
		t.Fatalf("no scores: %v\n%s", err, out.String())
	}
	// A user with no payments whose row claims three trades.
	sdb, err := sql.Open("sqlite", filepath.Join(dir, "danbao.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users (id, created_at, updated_at, phone, password_hash, display_name) VALUES ('usr_01J00000000000000000000000', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '+8613700000009', 'x', 'Li')`,
		`INSERT INTO trust_scores (id, user_id, score, level, account_age_days, completed_trades, completed_sales, refunds, lost_disputes, computed_at) VALUES ('trs_01J00000000000000000000000', 'usr_01J00000000000000000000000', 6, 'UNVERIFIED', 0, 3, 0, 0, 0, '2026-01-01 00:00:00')`,
	} {
		if _, err := sdb.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	sdb.Close()
	for _, c := range []struct {
		args []string
		fail bool
		out  string
	}{
		{[]string{"trust", "recount"}, true, "DIFFERENCE usr_01J00000000000000000000000: stored trades 3, sales 0, refunds 0, lost disputes 0; recounted trades 0"},
		{[]string{"trust", "recount", "-fix"}, false, "1 trust scores checked, 1 differed (recount stored)"},
		{[]string{"trust", "recount"}, false, "1 trust scores checked, 0 differed"},
	} {
		out.Reset()
		err := run(context.Background(), c.args, getenv, &out)
		if errors.Is(err, errViolations) != c.fail || (err != nil && !c.fail) || !strings.Contains(out.String(), c.out) {
			t.Fatalf("%v: %v\n%s", c.args, err, out.String())
		}
	}
	if err := run(context.Background(), []string{"trust", "frobnicate"}, getenv, &out); err == nil {
		t.Fatal("unknown trust command accepted")
	}
}

// TestEditedMigrationStopsStartup: a migration whose file no longer matches
// the checksum recorded when it was applied stops `serve` before it listens,
// with an error naming the file. The recorded checksum is altered here,
// which the runner cannot tell from an edited file.
func TestEditedMigrationStopsStartup(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		dir := t.TempDir()
		env := map[string]string{"DANBAO_DATA_DIR": dir, "DATABASE_URL": testenv.DatabaseURL(t, d), "DANBAO_ADDR": freeAddr(t)}
		getenv := func(k string) string { return env[k] }
		var out bytes.Buffer
		if err := run(context.Background(), []string{"migrate"}, getenv, &out); err != nil {
			t.Fatal(err)
		}
		driver, dsn := "sqlite", filepath.Join(dir, "danbao.db")
		if d == testenv.Postgres {
			driver, dsn = "pgx", env["DATABASE_URL"]
		}
		sdb, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer sdb.Close()
		if _, err := sdb.Exec("UPDATE schema_migrations SET checksum = 'feed' WHERE version = 3"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = run(ctx, nil, getenv, &out)
		var ee *migrations.EditedError
		if !errors.As(err, &ee) {
			t.Fatalf("serve with an edited migration: err = %v, want an EditedError", err)
		}
		if want := string(d) + "/0003_kyc.sql"; !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %s", err, want)
		}
	})
}

// TestHelpListsEveryCommand: help, -h and --help print the usage, which
// names every command run dispatches, without reading any configuration.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		var out bytes.Buffer
		bad := func(k string) string {
			if k == "DANBAO_AUTO_CONFIRM_AFTER" {
				return "soon" // a configuration error every other command reports
			}
			return ""
		}
		if err := run(context.Background(), []string{arg}, bad, &out); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		for _, cmd := range []string{"serve", "migrate", "operator create", "ledger verify", "kyc rotate-keys", "load", "help"} {
			if !strings.Contains(out.String(), "\n  "+cmd+" ") {
				t.Errorf("%s: usage has no line for %q:\n%s", arg, cmd, out.String())
			}
		}
	}
}

// TestProductionRefusesDevelopmentDefaults: `serve` with DANBAO_ENV=production
// and the development defaults does not start (nothing listens, no data
// directory is written) and names each setting to change.
func TestProductionRefusesDevelopmentDefaults(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DANBAO_ENV": "production", "DANBAO_DATA_DIR": dir, "DANBAO_ADDR": "127.0.0.1:0"}
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &out)
	if err == nil {
		t.Fatal("production started with development defaults")
	}
	for _, setting := range []string{"DANBAO_SANDBOX", "DANBAO_PLAYGROUND", "DANBAO_JWT_KEY_FILE", "DANBAO_KYC_KEYS", "DANBAO_BANK_CALLBACK_SECRET"} {
		if !strings.Contains(err.Error(), setting) {
			t.Errorf("refusal does not name %s: %v", setting, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Fatalf("the refused start wrote %d files to the data directory", len(entries))
	}
}

// tuneGC sets the GC defaults only where GOGC and GOMEMLIMIT are unset.
func TestTuneGC(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	})
	tuneGC(func(string) string { return "" })
	if p := debug.SetGCPercent(100); p != defaultGCPercent {
		t.Errorf("GC percent %d, want %d", p, defaultGCPercent)
	}
	if l := debug.SetMemoryLimit(math.MaxInt64); l != defaultMemoryLimit() || l < int64(runtime.GOMAXPROCS(0))*19<<20 {
		t.Errorf("memory limit %d, want %d, above one 19 MiB hash per core", l, defaultMemoryLimit())
	}
	tuneGC(func(k string) string { return map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}[k] })
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOGC set: GC percent changed to %d", p)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: memory limit changed to %d", l)
	}
}
