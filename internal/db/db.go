// Package db opens danbao's database: an embedded SQLite file by default,
// PostgreSQL when DATABASE_URL says so. Either way the schema is brought up
// to date by the versioned migrations of package migrations before the
// client is returned.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"danbao/ent"
	_ "danbao/ent/runtime" // defaults, validators and the append-only hooks
	"danbao/internal/dbtx"
	"danbao/internal/migrations"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"modernc.org/sqlite"               // pure Go
)

// DB is an open database: the ent client for domain code, and the raw pool
// for health checks and migrations.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect string // dialect.SQLite or dialect.Postgres
}

// Close closes the pool, after stopping SQLite's group commits (their
// connection would otherwise stay open, and usable, after the pool's
// Close).
func (d *DB) Close() error { return d.CloseContext(context.Background()) }

// CloseContext is Close waiting for the group commit under way no longer
// than ctx allows (a shutdown's deadline).
func (d *DB) CloseContext(ctx context.Context) error {
	dbtx.StopGroupCommits(ctx, d.Client)
	return d.Client.Close()
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.SQL.PingContext(ctx) }

// Open opens databaseURL if it is a postgres:// URL, or else an SQLite file
// named danbao.db in dataDir, applies pending migrations and returns the
// client.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	return OpenTraced(ctx, databaseURL, dataDir, nil)
}

// Trace is called with every statement the ent client sends (queries,
// executions, BEGIN and COMMIT included) and the context it was sent in;
// tests count a request's statements with it.
type Trace func(ctx context.Context, statement string)

// OpenTraced is Open with every statement of the client passed to trace
// (nil: none).
func OpenTraced(ctx context.Context, databaseURL, dataDir string, trace Trace) (*DB, error) {
	var (
		d   *DB
		err error
	)
	if databaseURL != "" {
		d, err = openPostgres(databaseURL, trace)
	} else {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		d, err = openSQLite(filepath.Join(dataDir, "danbao.db"), trace)
	}
	if err != nil {
		return nil, err
	}
	if err := migrations.Apply(ctx, d.SQL, d.Dialect); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// WALCheckpointPages is the WAL's size, in pages, at which a commit copies
// it back into the database file (SQLite's default is 1,000). Under load
// the same hot pages (counters, platform accounts, the right-most pages of
// the journal's and the outbox's indexes) are written by almost every
// commit; a checkpoint copies each page once however many commits wrote
// it, so a larger WAL copies much less per commit. The WAL file grows to
// about 40 MiB (10,000 pages of 4 KiB) and is then reused, not truncated
// (docs/architecture.md, Performance).
const WALCheckpointPages = 10000

// SQLiteDSN is the connection string for an SQLite file: WAL, full fsync,
// a checkpoint every WALCheckpointPages pages, a busy timeout and foreign
// keys on every pooled connection (savepoint journals stay in memory up to
// StatementJournalSpill), and write
// transactions that start IMMEDIATE (they take the write lock at BEGIN, so
// two writers never both read and then fail to upgrade; see
// docs/architecture.md, Transactions). Never cache=shared.
func SQLiteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(WALCheckpointPages)+")")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	// The path is percent-encoded: in a file: URI a '#' or '?' in a
	// directory name would otherwise end the file name early.
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}
	return u.String()
}

// OpenSQLite opens (creating if needed) the SQLite file at path. It does not
// migrate.
func OpenSQLite(path string) (*DB, error) { return openSQLite(path, nil) }

func openSQLite(path string, trace Trace) (*DB, error) {
	conn, err := sqlite.NewConnector(SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	sdb := sql.OpenDB(stmtCacheConnector{conn})
	// One writer at a time is SQLite's model; a handful of connections lets
	// readers proceed under WAL while a writer holds the lock.
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	return wrap(sdb, dialect.SQLite, trace), nil
}

// OpenPostgres opens the PostgreSQL database at url. It does not migrate.
func OpenPostgres(url string) (*DB, error) { return openPostgres(url, nil) }

func openPostgres(url string, trace Trace) (*DB, error) {
	sdb, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sdb.SetMaxOpenConns(32)
	sdb.SetMaxIdleConns(16)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	return wrap(sdb, dialect.Postgres, trace), nil
}

func wrap(sdb *sql.DB, d string, trace Trace) *DB {
	var drv dialect.Driver = entsql.OpenDB(d, sdb)
	switch d {
	case dialect.SQLite:
		drv = dbtx.Grouped(drv) // see dbtx's group.go
	case dialect.Postgres:
		drv = dbtx.Pipelined(drv, sdb) // see dbtx's pipeline.go
	}
	if trace != nil {
		drv = dialect.DebugWithContext(drv, func(ctx context.Context, v ...any) {
			if len(v) > 0 {
				trace(ctx, fmt.Sprint(v[0]))
			}
		})
	}
	client := ent.NewClient(ent.Driver(drv))
	dbtx.Register(client, d)
	switch d {
	case dialect.SQLite:
		dbtx.GroupCommits(client, sdb)
	case dialect.Postgres:
		dbtx.RegisterPipelined(client)
	}
	return &DB{Client: client, SQL: sdb, Dialect: d}
}
