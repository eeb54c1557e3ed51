// Package migrations holds danbao's versioned schema migrations, one folder
// per dialect (sqlite/, postgres/), and applies the pending ones at start-up.
//
// Files are named NNNN_name.sql and applied in order, each in its own
// transaction together with its row in schema_migrations. Several instances
// starting at once are safe: on PostgreSQL the runner holds an advisory lock,
// on SQLite each migration transaction starts IMMEDIATE and re-checks.
// Migrations are written once and never edited after they land; a test
// proves that the migrated schema equals the ent schema.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// lockKey is the PostgreSQL advisory lock held while migrating.
const lockKey = 0x64616e62616f // "danbao"

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// List returns the migrations of a dialect in version order.
func List(d string) ([]Migration, error) {
	dir := "sqlite"
	if d == dialect.Postgres {
		dir = "postgres"
	}
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		body, err := fs.ReadFile(files, dir+"/"+name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := range out {
		if out[i].Version != i+1 {
			return nil, fmt.Errorf("migrations of %s: version %d missing", d, i+1)
		}
	}
	return out, nil
}

// Apply applies every pending migration of dialect d to db and returns the
// versions it applied.
func Apply(ctx context.Context, db *sql.DB, d string) error {
	_, err := ApplyVerbose(ctx, db, d)
	return err
}

// ApplyVerbose is Apply returning the versions it applied.
func ApplyVerbose(ctx context.Context, db *sql.DB, d string) ([]int, error) {
	ms, err := List(d)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if d == dialect.Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
			return nil, fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		name varchar(200) NOT NULL,
		applied_at timestamp NOT NULL)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var applied []int
	for _, m := range ms {
		done, err := apply(ctx, conn, d, m)
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if done {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

func apply(ctx context.Context, conn *sql.Conn, d string, m Migration) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	q := "SELECT count(*) FROM schema_migrations WHERE version = ?"
	ins := "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"
	if d == dialect.Postgres {
		q = strings.ReplaceAll(q, "?", "$1")
		ins = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"
	}
	var n int
	if err := tx.QueryRowContext(ctx, q, m.Version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, ins, m.Version, m.Name, time.Now().UTC()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
