package dbtx

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"

	"danbao/ent"

	"entgo.io/ent/dialect"
)

// BulkRows bounds the rows of one multi-row INSERT a flush writes: SQLite
// allows 32,766 parameters per statement and PostgreSQL 65,535.
const BulkRows = 500

// Flusher is work a transaction defers to just before it commits (see
// Deferred).
type Flusher interface {
	Flush(ctx context.Context, tx *ent.Tx) error
}

// deferred holds, per open transaction, the flushers registered with
// Deferred, by key.
var deferred sync.Map // *ent.Tx -> *flushers

// flushing holds the flushers of a transaction while Flush runs them.
var flushing sync.Map // *ent.Tx -> *flushers

type flushers struct {
	mu   sync.Mutex
	byKy map[string]Flusher
}

// Deferred returns the Flusher registered under key in tx, registering
// the one mk makes on first use. Every registered Flusher is flushed, in
// key order, just before tx commits: by WithTx before its commit, and for
// a transaction committed by other means by a commit hook. A rollback
// forgets them. The packages whose rows take a global lock (the ledger's
// and the events' counter rows) write them this way, so that the lock is
// held from the flush to the commit only, and always taken in key order.
func Deferred[T Flusher](tx *ent.Tx, key string, mk func() T) T {
	v, loaded := deferred.LoadOrStore(tx, &flushers{byKy: map[string]Flusher{}})
	fs := v.(*flushers)
	if !loaded {
		tx.OnCommit(func(next ent.Committer) ent.Committer {
			return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
				if err := Flush(ctx, tx); err != nil {
					_ = tx.Rollback() // as a failed commit would have
					return err
				}
				return next.Commit(ctx, tx)
			})
		})
		tx.OnRollback(func(next ent.Rollbacker) ent.Rollbacker {
			return ent.RollbackFunc(func(ctx context.Context, tx *ent.Tx) error {
				deferred.Delete(tx)
				return next.Rollback(ctx, tx)
			})
		})
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.byKy[key]
	if !ok {
		f = mk()
		fs.byKy[key] = f
	}
	return f.(T)
}

// Registered returns the Flusher registered under key in tx, if any (a
// flusher that writes another's rows in its own statement finds them so).
func Registered[T Flusher](tx *ent.Tx, key string) (T, bool) {
	var zero T
	v, ok := deferred.Load(tx)
	if !ok {
		if v, ok = flushing.Load(tx); !ok {
			return zero, false
		}
	}
	fs := v.(*flushers)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.byKy[key].(T)
	return f, ok
}

// Flush runs, once and in key order, the flushers registered in tx with
// Deferred. WithTx calls it before committing; a caller committing a
// transaction itself need not (the commit hook does), but a transaction
// flushed explicitly has its own commit hooks registered during the flush
// (event wake-ups) run too.
func Flush(ctx context.Context, tx *ent.Tx) error {
	v, ok := deferred.LoadAndDelete(tx)
	if !ok {
		return nil
	}
	fs := v.(*flushers)
	fs.mu.Lock()
	keys := make([]string, 0, len(fs.byKy))
	for k := range fs.byKy {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	list := make([]Flusher, len(keys))
	for i, k := range keys {
		list[i] = fs.byKy[k]
	}
	fs.mu.Unlock()
	flushing.Store(tx, fs)
	defer flushing.Delete(tx)
	for _, f := range list {
		if err := f.Flush(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// Querier is what sends a raw statement: an *ent.Tx or an *ent.Client.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// QueryRow runs a statement returning one row through q (an UPDATE ...
// RETURNING, which both engines support, in one round trip; or a SELECT)
// and scans it into dest; sql.ErrNoRows when there is none.
func QueryRow(ctx context.Context, q Querier, dest []any, query string, args ...any) error {
	if tx, ok := q.(*ent.Tx); ok && isPipelined(tx) {
		// Scanned by the pipelined transaction itself (pipeline.go), with
		// its BEGIN when this is its first statement.
		rows, err := tx.QueryContext(ctx, query, append(append([]any(nil), args...), &rowInto{dest: dest})...)
		if rows != nil {
			_ = rows.Close()
			return errors.New("dbtx: a one-row statement was not scanned by its transaction")
		}
		return err
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// dialects are the SQL dialects of the clients registered with Register;
// origins, the client and dialect of each transaction WithTx has open.
var (
	dialects sync.Map // *ent.Client -> string
	origins  sync.Map // *ent.Tx -> Origin
	gates    sync.Map // *ent.Client -> chan struct{} (SQLite: one writer at a time)
)

// Origin is where a transaction began: its client and that client's SQL
// dialect (dialect.Postgres or dialect.SQLite).
type Origin struct {
	Client  *ent.Client
	Dialect string
}

// Register records client's SQL dialect, so that flushers of transactions
// WithTx begins on it may use statements of that dialect (OriginOf).
// On SQLite it also gives the client its writer gate, of one (see
// WithTx); SetWriters gives a PostgreSQL client one.
func Register(client *ent.Client, d string) {
	dialects.Store(client, d)
	if d == dialect.SQLite {
		gates.Store(client, make(chan struct{}, 1))
	}
}

// SetWriters limits how many transactions WithTx runs at once on a
// registered PostgreSQL client (n <= 0: no limit). Call it before the
// client is used. SQLite clients keep their gate of one.
func SetWriters(client *ent.Client, n int) {
	if d, ok := dialects.Load(client); !ok || d.(string) != dialect.Postgres {
		return
	}
	if n <= 0 {
		gates.Delete(client)
		return
	}
	gates.Store(client, make(chan struct{}, n))
}

// OriginOf returns the client and dialect of tx if WithTx began it on a
// registered client; otherwise ok is false and callers use statements
// both engines accept.
func OriginOf(tx *ent.Tx) (o Origin, ok bool) {
	v, ok := origins.Load(tx)
	if !ok {
		return Origin{}, false
	}
	return v.(Origin), true
}

// Insert is a multi-row INSERT of rows rows into table's columns, with ?
// placeholders (SQLite): a flush's statement text of its own, without
// ent's builders, which the one writer's turn would pay for at every
// commit. The text depends only on its arguments, so the connections'
// statement caches keep one per row count.
func Insert(table string, columns []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
	one := "(" + strings.Repeat("?, ", len(columns)-1) + "?)"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}
