package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"danbao/internal/migrations"

	"entgo.io/ent/dialect"
)

// pg returns the PostgreSQL URL of the tests, skipping when unset: the
// writer needs both dialects.
func pg(t *testing.T) string {
	t.Helper()
	u := os.Getenv("DANBAO_TEST_DATABASE_URL")
	if u == "" {
		t.Skip("PostgreSQL not configured: set DANBAO_TEST_DATABASE_URL")
	}
	return u
}

// copyMigrations copies the built-in migrations into a temporary folder,
// leaving out the files for which skip is true.
func copyMigrations(t *testing.T, skip func(name string) bool) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(migrations.Files(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if e.IsDir() {
			return os.Mkdir(filepath.Join(dir, p), 0o755)
		}
		if skip(e.Name()) {
			return nil
		}
		b, err := fs.ReadFile(migrations.Files(), p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"sqlite", "postgres"} {
		es, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(out, d+"/"+e.Name())
		}
	}
	return out
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"add_x", "a", "add_payment_note2", "v2_index"} {
		if err := checkName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Add_x", "add-x", "add x", "_x", "x_", "a__b", "2x", "../x", "x.sql", strings.Repeat("a", 61)} {
		if err := checkName(bad); !errors.Is(err, errBadName) {
			t.Errorf("%q: err = %v, want errBadName", bad, err)
		}
	}
}

// TestNewWritesBothDialects: with the last migration missing, -new writes
// the next number for both dialects from the schema diff, and the folder
// then builds exactly the ent schema on both engines.
func TestNewWritesBothDialects(t *testing.T) {
	url := pg(t)
	ms, err := migrations.List(dialect.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	last := ms[len(ms)-1]
	dir := copyMigrations(t, func(name string) bool { return strings.HasPrefix(name, fmtVersion(last.Version)) })
	var out bytes.Buffer
	if err := run(context.Background(), "", "readd_last", dir, url, &out); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"sqlite", "postgres"} {
		p := filepath.Join(dir, d, fmtVersion(last.Version)+"_readd_last.sql")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s not written: %v", p, err)
		}
	}
	for _, d := range []string{dialect.SQLite, dialect.Postgres} {
		pending, err := migrations.PendingFS(context.Background(), d, url, os.DirFS(dir))
		if err != nil {
			t.Fatal(err)
		}
		if pending != "" {
			t.Fatalf("%s still lags the ent schema after the written migration:\n%s", d, pending)
		}
	}
}

func fmtVersion(v int) string { return fmt.Sprintf("%04d", v) }

// TestNewRefuses: a bad name, an empty diff and an unreachable PostgreSQL
// each write nothing.
func TestNewRefuses(t *testing.T) {
	dir := copyMigrations(t, func(string) bool { return false })
	before := files(t, dir)
	ctx := context.Background()
	if _, err := writeNext(ctx, dir, "Bad-Name", defaultPostgres); !errors.Is(err, errBadName) {
		t.Fatalf("bad name: err = %v", err)
	}
	if _, err := writeNext(ctx, dir, "add_x", "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); !errors.Is(err, errUnreachable) {
		t.Fatalf("unreachable PostgreSQL: err = %v", err)
	}
	if url := os.Getenv("DANBAO_TEST_DATABASE_URL"); url != "" {
		if _, err := writeNext(ctx, dir, "add_x", url); !errors.Is(err, errNoChange) {
			t.Fatalf("empty diff: err = %v", err)
		}
	} else {
		t.Log("empty-diff case not run: set DANBAO_TEST_DATABASE_URL")
	}
	if after := files(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("files changed by refused runs: %v -> %v", before, after)
	}
}

func TestNextVersion(t *testing.T) {
	dir := copyMigrations(t, func(string) bool { return false })
	ms, _ := migrations.List(dialect.Postgres)
	v, err := nextVersion(dir)
	if err != nil || v != len(ms)+1 {
		t.Fatalf("nextVersion = %d, %v; want %d", v, err, len(ms)+1)
	}
	// One dialect ahead (a half-written change): the next number is past both.
	if err := os.WriteFile(filepath.Join(dir, "sqlite", fmtVersion(v)+"_x.sql"), []byte("SELECT 1;"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := nextVersion(dir); err != nil || got != v+1 {
		t.Fatalf("nextVersion with sqlite ahead = %d, %v; want %d", got, err, v+1)
	}
}
