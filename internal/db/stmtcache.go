package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
)

// SQLite's driver prepares every statement it is given, each time: under
// load that was a sixth of the server's CPU, spent while the one writer
// held the database. ent sends the same few hundred statement texts over
// and over, so each pooled connection keeps its prepared statements by
// text and reuses them (PostgreSQL's driver, pgx, does the same by
// default).

// maxCachedStmts bounds the statements one connection keeps; past it the
// idle ones are closed and the cache starts again.
const maxCachedStmts = 512

// maxCachedText is the longest statement text kept (longer ones are
// one-off scripts: migrations).
const maxCachedText = 4096

// stmtCacheConnector opens connections that keep their prepared statements.
type stmtCacheConnector struct{ driver.Connector }

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stmtCacheConn{inner: conn, stmts: map[string]*cachedStmt{}}, nil
}

// stmtCacheConn is one connection; database/sql uses a connection from one
// goroutine at a time, so the cache needs no lock.
type stmtCacheConn struct {
	inner driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt driver.Stmt
	busy bool // its rows are open: a second use gets a statement of its own
}

var (
	_ driver.ConnBeginTx            = (*stmtCacheConn)(nil)
	_ driver.ConnPrepareContext     = (*stmtCacheConn)(nil)
	_ driver.ExecerContext          = (*stmtCacheConn)(nil)
	_ driver.QueryerContext         = (*stmtCacheConn)(nil)
	_ driver.SessionResetter        = (*stmtCacheConn)(nil)
	_ driver.Validator              = (*stmtCacheConn)(nil)
	_ driver.Pinger                 = (*stmtCacheConn)(nil)
	_ driver.RowsColumnTypeScanType = (*releasingRows)(nil)
)

func (c *stmtCacheConn) Prepare(query string) (driver.Stmt, error) { return c.inner.Prepare(query) }

func (c *stmtCacheConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *stmtCacheConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *stmtCacheConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *stmtCacheConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *stmtCacheConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Close closes the kept statements, then the connection.
func (c *stmtCacheConn) Close() error {
	var errs []error
	for text, s := range c.stmts {
		errs = append(errs, s.stmt.Close())
		delete(c.stmts, text)
	}
	return errors.Join(append(errs, c.inner.Close())...)
}

// take returns a prepared statement for query and its release: the kept
// one when it is free, otherwise a new one (kept if there is room, closed
// at release if not).
func (c *stmtCacheConn) take(ctx context.Context, query string) (driver.Stmt, func() error, error) {
	if s, ok := c.stmts[query]; ok && !s.busy {
		s.busy = true
		return s.stmt, func() error { s.busy = false; return nil }, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	if _, kept := c.stmts[query]; kept || len(query) > maxCachedText {
		return st, st.Close, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for text, s := range c.stmts {
			if !s.busy {
				_ = s.stmt.Close()
				delete(c.stmts, text)
			}
		}
	}
	s := &cachedStmt{stmt: st, busy: true}
	c.stmts[query] = s
	return st, func() error { s.busy = false; return nil }, nil
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, release, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
	return res, errors.Join(err, release())
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, release, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, errors.Join(err, release())
	}
	return &releasingRows{Rows: rows, release: release}, nil
}

// releasingRows frees its statement for the next use when closed. It
// passes the column-type questions on to the driver's rows.
type releasingRows struct {
	driver.Rows
	release func() error
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	if r.release != nil {
		err = errors.Join(err, r.release())
		r.release = nil
	}
	return err
}

func (r *releasingRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *releasingRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *releasingRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *releasingRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *releasingRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
