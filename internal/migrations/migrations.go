// Package migrations holds danbao's versioned schema migrations, one folder
// per dialect (sqlite/, postgres/), and applies the pending ones at start-up.
//
// Files are named NNNN_name.sql and applied in order, each in its own
// transaction together with its row in schema_migrations (version, name,
// applied_at and the SHA-256 of the file). Several instances starting at
// once are safe: on PostgreSQL the runner holds an advisory lock, on SQLite
// each migration transaction starts IMMEDIATE and re-checks.
//
// Migrations are written once and never edited after they land: before
// applying anything the runner compares each applied migration's recorded
// SHA-256 with the file's, and refuses to go on, naming the file, when they
// differ. Databases migrated before checksums existed get the column and
// their rows' checksums (from the files as they are then) on the first
// start. A test proves that the migrated schema equals the ent schema;
// `make migration NAME=x` (internal/tools/migdiff) writes the next file for
// both dialects. See docs/architecture.md, Changing the schema.
package migrations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
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

// Files returns the migrations built into the binary: a folder per dialect,
// sqlite/ and postgres/, of NNNN_name.sql files.
func Files() fs.FS { return files }

// lockKey is the PostgreSQL advisory lock held while migrating.
const lockKey = 0x64616e62616f // "danbao"

// Migration is one versioned schema change.
type Migration struct {
	Version  int
	Name     string // the file name's part after NNNN_, without .sql
	File     string // dialect folder and file name, e.g. "sqlite/0003_kyc.sql"
	SQL      string
	Checksum string // hex SHA-256 of the file's bytes
}

// Dir is the folder of dialect d's migrations: "sqlite" or "postgres".
func Dir(d string) string {
	if d == dialect.Postgres {
		return "postgres"
	}
	return "sqlite"
}

// List returns the built-in migrations of a dialect in version order.
func List(d string) ([]Migration, error) { return ListFS(files, d) }

// ListFS returns the migrations of dialect d in fsys (laid out as Files)
// in version order; versions must run 1, 2, 3... without a gap.
func ListFS(fsys fs.FS, d string) ([]Migration, error) {
	dir := Dir(d)
	entries, err := fs.ReadDir(fsys, dir)
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
		body, err := fs.ReadFile(fsys, dir+"/"+name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{Version: v, Name: rest, File: dir + "/" + name,
			SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := range out {
		if out[i].Version != i+1 {
			return nil, fmt.Errorf("migrations of %s: version %d missing", d, i+1)
		}
	}
	return out, nil
}

// Apply checks the applied migrations of dialect d against their files and
// applies every pending one to db.
func Apply(ctx context.Context, db *sql.DB, d string) error {
	_, err := ApplyVerbose(ctx, db, d)
	return err
}

// ApplyVerbose is Apply returning the versions it applied.
func ApplyVerbose(ctx context.Context, db *sql.DB, d string) ([]int, error) {
	return ApplyFS(ctx, db, d, files)
}

// ApplyFS is ApplyVerbose with the migrations of fsys (laid out as Files).
// It returns an *EditedError, applying nothing, when an applied migration's
// file no longer has the checksum recorded when it was applied.
func ApplyFS(ctx context.Context, db *sql.DB, d string, fsys fs.FS) ([]int, error) {
	ms, err := ListFS(fsys, d)
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
		applied_at timestamp NOT NULL,
		checksum varchar(64))`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := backfillChecksums(ctx, conn, d, ms); err != nil {
		return nil, fmt.Errorf("migrate: checksums: %w", err)
	}
	if err := checkApplied(ctx, conn, ms); err != nil {
		return nil, err
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
	ins := "INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES (?, ?, ?, ?)"
	if d == dialect.Postgres {
		q = strings.ReplaceAll(q, "?", "$1")
		ins = "INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES ($1, $2, $3, $4)"
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
	if _, err := tx.ExecContext(ctx, ins, m.Version, m.Name, time.Now().UTC(), m.Checksum); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// EditedError reports an applied migration whose file has changed since.
type EditedError struct {
	File     string // under internal/migrations, e.g. "postgres/0003_kyc.sql"
	Recorded string // the SHA-256 recorded when it was applied
	Current  string // the SHA-256 of the file now
}

// Error names the file and both checksums, and says what to do.
func (e *EditedError) Error() string {
	return fmt.Sprintf("migration internal/migrations/%s was edited after it was applied to this database "+
		"(recorded sha256 %s, file now %s): restore the file as it was and put the change in a new migration (make migration NAME=...)",
		e.File, e.Recorded, e.Current)
}

// checkApplied compares every applied migration's recorded checksum with
// its file's. Versions the files do not know (applied by a newer build) are
// left alone.
func checkApplied(ctx context.Context, conn *sql.Conn, ms []Migration) error {
	rows, err := conn.QueryContext(ctx, "SELECT version, checksum FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer rows.Close()
	byVersion := make(map[int]Migration, len(ms))
	for _, m := range ms {
		byVersion[m.Version] = m
	}
	for rows.Next() {
		var (
			v   int
			sum sql.NullString
		)
		if err := rows.Scan(&v, &sum); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		m, ok := byVersion[v]
		if ok && sum.Valid && sum.String != m.Checksum {
			return &EditedError{File: m.File, Recorded: sum.String, Current: m.Checksum}
		}
	}
	return rows.Err()
}

// backfillChecksums brings a schema_migrations table from before checksums
// up to date: it adds the column if missing and records, for each applied
// migration without one, the checksum of its file as it is now (the best
// evidence there is; edits from then on are caught).
func backfillChecksums(ctx context.Context, conn *sql.Conn, d string, ms []Migration) error {
	tx, err := conn.BeginTx(ctx, nil) // IMMEDIATE on SQLite: one instance at a time
	if err != nil {
		return err
	}
	defer tx.Rollback()
	upd := "UPDATE schema_migrations SET checksum = ? WHERE version = ? AND checksum IS NULL"
	if d == dialect.Postgres {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum varchar(64)"); err != nil {
			return err
		}
		upd = "UPDATE schema_migrations SET checksum = $1 WHERE version = $2 AND checksum IS NULL"
	} else {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM pragma_table_info('schema_migrations') WHERE name = 'checksum'").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := tx.ExecContext(ctx, "ALTER TABLE schema_migrations ADD COLUMN checksum varchar(64)"); err != nil {
				return err
			}
		}
	}
	for _, m := range ms {
		if _, err := tx.ExecContext(ctx, upd, m.Checksum, m.Version); err != nil {
			return err
		}
	}
	return tx.Commit()
}
