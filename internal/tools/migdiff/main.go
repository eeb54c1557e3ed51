// Command migdiff turns the difference between the versioned migrations and
// the ent schema into SQL. The schema it compares with is the generated code
// in ent/, so run `make generate` after editing ent/schema first.
//
// Write the next migration for both dialects (what `make migration
// NAME=add_x` runs):
//
//	go run ./internal/tools/migdiff -new add_x
//
// It writes internal/migrations/sqlite/NNNN_add_x.sql and
// internal/migrations/postgres/NNNN_add_x.sql, NNNN being the next free
// number, and refuses a bad name or an empty diff. Print one dialect's diff
// without writing anything:
//
//	go run ./internal/tools/migdiff -dialect sqlite
//	go run ./internal/tools/migdiff -dialect postgres
//
// The PostgreSQL diff needs a server: it works in a scratch schema it
// creates and drops in the database at -url (default
// $DANBAO_TEST_DATABASE_URL, else the local default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable). See
// docs/architecture.md, Changing the schema.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"danbao/internal/migrations"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"
)

// defaultPostgres is the database used when DANBAO_TEST_DATABASE_URL is unset.
const defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Refusals of -new.
var (
	errBadName     = errors.New("bad migration name")
	errNoChange    = errors.New("no schema change")
	errUnreachable = errors.New("PostgreSQL unreachable")
)

func main() {
	d := flag.String("dialect", "sqlite", "print the diff of this dialect: sqlite or postgres")
	name := flag.String("new", "", "write the next migration, named `NAME`, for both dialects")
	dir := flag.String("dir", "internal/migrations", "the migrations folder (sqlite/ and postgres/ inside)")
	pgURL := flag.String("url", postgresURL(os.Getenv), "PostgreSQL database for the postgres diff (a scratch schema is used)")
	flag.Parse()
	if err := run(context.Background(), *d, *name, *dir, *pgURL, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "migdiff:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, d, name, dir, pgURL string, stdout io.Writer) error {
	if name == "" {
		if d == dialect.Postgres {
			if err := reachable(ctx, pgURL); err != nil {
				return err
			}
		}
		out, err := migrations.PendingFS(ctx, d, pgURL, os.DirFS(dir))
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(stdout, out)
		return err
	}
	paths, err := writeNext(ctx, dir, name, pgURL)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintln(stdout, "wrote", p)
	}
	fmt.Fprintln(stdout, "review them, then run make test (both engines: set DANBAO_TEST_DATABASE_URL)")
	return nil
}

// postgresURL is DANBAO_TEST_DATABASE_URL, or the local default.
func postgresURL(getenv func(string) string) string {
	if u := getenv("DANBAO_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultPostgres
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkName accepts lower-case words joined by single underscores, such as
// add_payment_note, up to 60 characters.
func checkName(name string) error {
	if len(name) > 60 || !namePattern.MatchString(name) {
		return fmt.Errorf("%w %q: use lower-case letters, digits and single underscores, starting with a letter (e.g. NAME=add_payment_note)", errBadName, name)
	}
	return nil
}

// nextVersion is one more than the highest version of either dialect.
func nextVersion(dir string) (int, error) {
	next := 1
	for _, d := range []string{dialect.SQLite, dialect.Postgres} {
		ms, err := migrations.ListFS(os.DirFS(dir), d)
		if err != nil {
			return 0, err
		}
		if n := len(ms); n > 0 && ms[n-1].Version >= next {
			next = ms[n-1].Version + 1
		}
	}
	return next, nil
}

// reachable checks that PostgreSQL answers at pgURL within a few seconds.
func reachable(ctx context.Context, pgURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(context.Background())
	}
	if err != nil {
		shown := pgURL
		if u, perr := url.Parse(pgURL); perr == nil {
			shown = u.Redacted()
		}
		return fmt.Errorf("%w at %s (%v): the PostgreSQL migration is computed on a live server; start one there or set DANBAO_TEST_DATABASE_URL",
			errUnreachable, shown, err)
	}
	return nil
}

// writeNext writes the next migration, named name, of both dialects into
// dir from the ent schema diff and returns the files' paths. It writes
// nothing when the name is bad, PostgreSQL is unreachable, or either
// dialect's diff is empty.
func writeNext(ctx context.Context, dir, name, pgURL string) ([]string, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	v, err := nextVersion(dir)
	if err != nil {
		return nil, err
	}
	if err := reachable(ctx, pgURL); err != nil {
		return nil, err
	}
	dialects := []string{dialect.SQLite, dialect.Postgres}
	diffs := make([]string, len(dialects))
	for i, d := range dialects {
		if diffs[i], err = migrations.PendingFS(ctx, d, pgURL, os.DirFS(dir)); err != nil {
			return nil, fmt.Errorf("%s diff: %w", d, err)
		}
	}
	switch {
	case diffs[0] == "" && diffs[1] == "":
		return nil, fmt.Errorf("%w: the migrations already build the ent schema (edit ent/schema and run make generate first)", errNoChange)
	case diffs[0] == "" || diffs[1] == "":
		return nil, fmt.Errorf("%w for one dialect only (sqlite %d bytes, postgres %d bytes): write this migration by hand", errNoChange, len(diffs[0]), len(diffs[1]))
	}
	var paths []string
	for i, d := range dialects {
		p := filepath.Join(dir, migrations.Dir(d), fmt.Sprintf("%04d_%s.sql", v, name))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, err = f.WriteString(diffs[i])
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			for _, done := range paths {
				os.Remove(done)
			}
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
