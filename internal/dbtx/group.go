package dbtx

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"danbao/ent"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Group commit (SQLite). SQLite has one writer: every write transaction of
// the process runs one after the other, and each used to end with its own
// COMMIT, which writes the pages it changed to the WAL and waits for an
// fsync. Under load most of those pages are the same few (the counters, the
// escrow account, the right-most pages of the journal's and the outbox's
// indexes). So the transactions that queue while one group runs are run,
// one after the other as before, each in a SAVEPOINT of one shared
// transaction, and committed together: one BEGIN, one WAL write of the
// pages they changed and one fsync for all of them.
//
// Each unit keeps its own ent.Tx (its hooks, its deferred flushers): the
// savepoint is its transaction. A unit that fails is rolled back to its
// savepoint and its caller gets its error at once; the others are not
// touched. A unit that succeeds has its savepoint released and its Commit
// returns only when the shared transaction has committed, with that
// commit's result: a caller never hears "committed" for work that is not
// durable, and after-commit hooks (event wake-ups, caches) run after the
// real commit. If the shared transaction cannot commit, or an error leaves
// it unusable (SQLite rolls a transaction back by itself on I/O errors,
// a full disk or an interrupt, after which statements would run outside
// any transaction), the whole group is rolled back and every unit that
// had succeeded gets ErrGroupAborted, which WithTx retries. The unit whose
// own statement made it unusable gets that statement's error alone, final
// unless retryable by itself, as without group commit: retried, it would
// roll back a new group at every attempt.

// ErrGroupAborted is the error of a unit whose group could not commit for
// a reason not its own. WithTx retries it (Retryable).
var ErrGroupAborted = errors.New("dbtx: the group of transactions this one was committed with was rolled back; retry")

// ErrClosed is the error of a transaction begun on a client whose group
// commits were stopped (StopGroupCommits: its database is being closed).
var ErrClosed = errors.New("dbtx: the database is closed")

// MaxGroup bounds how many transactions one group commit takes.
const MaxGroup = 64

// groupIdle is how long a committer waits for work before its goroutine
// ends (the next transaction starts a new one).
const groupIdle = time.Second

// committers holds the committer of each client registered with
// GroupCommits.
var committers sync.Map // *ent.Client -> *committer

// GroupCommits makes WithTx commit client's transactions in groups; db is
// the pool under the Grouped driver client was built on.
func GroupCommits(client *ent.Client, db *sql.DB) {
	committers.Store(client, &committer{db: db, wake: make(chan struct{}, 1)})
}

// StopGroupCommits stops client's committer before its database is
// closed: the group under way commits, every transaction still queued or
// begun later fails with ErrClosed, and it returns once the committer has
// released its connection (which the pool's Close would not close while
// it is held, and through which writes would go on committing), or when
// ctx ends first.
func StopGroupCommits(ctx context.Context, client *ent.Client) {
	v, ok := committers.Load(client)
	if !ok {
		return
	}
	c := v.(*committer)
	c.mu.Lock()
	c.closed = true
	done := c.done
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
}

// GroupStats returns how many shared transactions client's committer has
// begun and how many transactions it ran in them (zeros without one).
func GroupStats(client *ent.Client) (groups, units int64) {
	v, ok := committers.Load(client)
	if !ok {
		return 0, 0
	}
	c := v.(*committer)
	return c.groups.Load(), c.units.Load()
}

// Grouped wraps an SQLite ent driver so that transactions WithTx runs on
// it are committed in groups (see above). Register the client built on it.
func Grouped(drv dialect.Driver) dialect.Driver { return &groupDriver{Driver: drv} }

type groupDriver struct{ dialect.Driver }

// ExecContext and QueryContext run a statement outside any transaction
// (ent's client.ExecContext, QueryContext).
func (d *groupDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}).ExecContext(ctx, query, args...)
}

func (d *groupDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}).QueryContext(ctx, query, args...)
}

// BeginTx begins a transaction with options (a read snapshot) outside any
// group.
func (d *groupDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	return d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	}).BeginTx(ctx, opts)
}

// unitKey marks the context of a unit's transaction: Tx then opens a
// savepoint of the group's transaction instead of a transaction.
type unitKey struct{}

func (d *groupDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	u, ok := ctx.Value(unitKey{}).(*unit)
	if !ok || u == nil {
		return d.Driver.Tx(ctx)
	}
	return u.g.savepoint(ctx, u)
}

type committer struct {
	db      *sql.DB      // the pool under groupDriver: real transactions
	groups  atomic.Int64 // shared transactions begun
	units   atomic.Int64 // units given a turn in them
	mu      sync.Mutex
	queue   []*unit
	running bool
	closed  bool          // StopGroupCommits was called
	done    chan struct{} // closed when the last loop started has ended
	wake    chan struct{} // a unit was queued, or the committer stopped
}

type unit struct {
	turn      chan *group  // the committer gives the unit its turn (nil group: see err)
	err       error        // why there is no group
	finished  chan outcome // the unit tells the committer how its turn ended, once
	signalled bool
	result    chan error // the committer tells a released unit the group's commit result
	g         *group
}

// signal tells the committer, once, how the unit's turn ended.
func (u *unit) signal(o outcome) {
	if !u.signalled {
		u.signalled = true
		u.finished <- o
	}
}

type outcome int

const (
	released   outcome = iota // its savepoint released: committed with the group
	rolledBack                // its savepoint rolled back: nothing of it stays
	broken                    // the shared transaction is unusable
)

// group is one shared transaction.
type group struct {
	tx     dialect.Tx
	ctx    context.Context // never cancelled: an interrupted statement would roll back every unit
	n      int
	broken bool
	solo   bool // one unit: it runs in the transaction itself, without a savepoint
}

// run is the unit side of group commit: wait for a turn, then run fn in a
// savepoint like once runs it in a transaction. ok is false when the unit
// gave up its place (a turn not given within gateWait: a transaction begun
// inside another's function); the caller then runs it alone.
func (c *committer) run(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) (err error, ok bool) {
	u := &unit{turn: make(chan *group, 1), finished: make(chan outcome, 1), result: make(chan error, 1)}
	c.enqueue(u)
	t := time.NewTimer(gateWait)
	defer t.Stop()
	var g *group
	select {
	case g = <-u.turn:
	case <-ctx.Done():
		if c.dequeue(u) {
			return fmt.Errorf("begin: %w", ctx.Err()), true
		}
		g = <-u.turn // already taken into a group: take the turn, roll back at once
	case <-t.C:
		if c.dequeue(u) {
			return nil, false
		}
		g = <-u.turn
	}
	if g == nil {
		return fmt.Errorf("begin: %w", u.err), true
	}
	u.g = g
	defer u.signal(broken) // a path below that did not say how its turn ended
	if ctx.Err() != nil {
		u.signal(rolledBack)
		return fmt.Errorf("begin: %w", ctx.Err()), true
	}
	return body(context.WithValue(ctx, unitKey{}, u), client, fn), true
}

func (c *committer) enqueue(u *unit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		u.err = ErrClosed
		u.turn <- nil
		return
	}
	c.queue = append(c.queue, u)
	if !c.running {
		c.running = true
		c.done = make(chan struct{})
		go c.loop(c.done)
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// dequeue removes u if it is still waiting; false when a group took it.
func (c *committer) dequeue(u *unit) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range c.queue {
		if q == u {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			return true
		}
	}
	return false
}

// take returns the waiting units, up to MaxGroup, waiting up to groupIdle
// for one; none means the loop ends (running is cleared under the lock, so
// a unit queued after that starts a new loop).
func (c *committer) take() []*unit {
	idle := time.NewTimer(groupIdle)
	defer idle.Stop()
	for {
		c.mu.Lock()
		if c.closed {
			for _, u := range c.queue {
				u.err = ErrClosed
				u.turn <- nil
			}
			c.queue = nil
			c.running = false
			c.mu.Unlock()
			return nil
		}
		if n := len(c.queue); n > 0 {
			if n > MaxGroup {
				n = MaxGroup
			}
			units := append([]*unit(nil), c.queue[:n]...)
			c.queue = append(c.queue[:0], c.queue[n:]...)
			c.mu.Unlock()
			return units
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-idle.C:
			c.mu.Lock()
			if len(c.queue) > 0 {
				c.mu.Unlock()
				continue
			}
			c.running = false
			c.mu.Unlock()
			return nil
		}
	}
}

func (c *committer) loop(done chan struct{}) {
	defer close(done)
	// The groups run on one connection, held while the loop runs. Each
	// SQLite connection has its own page cache, which it must drop when it
	// finds that another connection has written since it last read: a
	// writer taking whichever connection the pool gives re-reads the hot
	// pages (counters, the escrow account, the journal's right-most pages)
	// at almost every group. The only writer's own cache stays valid.
	var conn *sql.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	for {
		units := c.take()
		if units == nil {
			return
		}
		tx, err := c.begin(&conn)
		if !c.commit(tx, err, units) && conn != nil {
			// Discarded, not returned to the pool (which would hand it
			// back first): the next group takes a fresh connection.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			_ = conn.Close()
			conn = nil
		}
	}
}

// begin begins a shared transaction on *conn, taking a connection from
// the pool first if *conn is nil.
func (c *committer) begin(conn **sql.Conn) (dialect.Tx, error) {
	ctx := context.Background()
	if *conn == nil {
		cn, err := c.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		*conn = cn
	}
	tx, err := (*conn).BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &entsql.Tx{Conn: entsql.Conn{ExecQuerier: tx}, Tx: tx}, nil
}

// commit runs units in the shared transaction tx (err: why it could not
// begin), one after the other, and commits it. It reports whether the
// connection is still fit for the next group: false after a failure to
// begin or to commit, or a rolled-back broken group.
func (c *committer) commit(tx dialect.Tx, err error, units []*unit) bool {
	ctx := context.Background()
	if err != nil {
		for _, u := range units {
			u.err = err
			u.turn <- nil
		}
		return false
	}
	c.groups.Add(1)
	c.units.Add(int64(len(units)))
	g := &group{tx: tx, ctx: ctx, solo: len(units) == 1}
	var done []*unit
	for _, u := range units {
		if g.broken {
			u.err = ErrGroupAborted
			u.turn <- nil
			continue
		}
		u.turn <- g
		switch <-u.finished {
		case released:
			done = append(done, u)
		case broken:
			g.broken = true
		}
	}
	if g.broken {
		_ = tx.Rollback()
		for _, u := range done {
			u.result <- ErrGroupAborted
		}
		return false
	}
	if len(done) == 0 { // every unit rolled back (a solo one without a savepoint)
		_ = tx.Rollback()
		return true
	}
	err = tx.Commit()
	if err != nil {
		_ = tx.Rollback()
	}
	for _, u := range done {
		u.result <- err
	}
	return err == nil
}

// savepoint opens u's savepoint in g; ctx is the unit's.
func (g *group) savepoint(ctx context.Context, u *unit) (dialect.Tx, error) {
	if g.broken {
		return nil, ErrGroupAborted
	}
	g.n++
	s := &spTx{g: g, u: u, ctx: ctx, name: "u" + strconv.Itoa(g.n)}
	if g.solo {
		s.name = ""
		return s, nil
	}
	if err := s.exec("SAVEPOINT " + s.name); err != nil {
		g.broken = true
		return nil, err
	}
	return s, nil
}

// spTx is a unit's transaction: a savepoint of its group's transaction.
type spTx struct {
	g *group
	u *unit
	// ctx is the unit's own context: once it has ended the unit commits
	// nothing, as database/sql rolls back a transaction whose context
	// ended (its statements run under the group's).
	ctx  context.Context
	name string
	done bool
	// broke is the error of this unit's own statement that made the
	// group unusable. It is the unit's own (final unless Retryable by
	// itself, as it was without group commit): its rollback reports no
	// ErrGroupAborted, and its commit that error, not ErrGroupAborted,
	// which would have it retried, rolling back a new group each time.
	broke error
}

func (s *spTx) exec(query string) error {
	return s.g.tx.Exec(s.g.ctx, query, []any{}, nil)
}

// check marks the group unusable after an error that makes SQLite roll the
// transaction back by itself.
func (s *spTx) check(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_RANGE, sqlite3.SQLITE_ERROR:
		default:
			s.g.broken, s.broke = true, err
		}
	}
	return err
}

// usable refuses a statement after the end, in a broken group, or once
// the unit's own context has ended: a statement runs under the group's
// context (an interrupted SQLite statement would roll back every unit),
// so a unit's cancellation takes effect between its statements, and at
// its Commit, which then rolls it back.
func (s *spTx) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.done {
		return sql.ErrTxDone
	}
	if s.g.broken {
		return ErrGroupAborted
	}
	return nil
}

func (s *spTx) Exec(ctx context.Context, query string, args, v any) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.check(s.g.tx.Exec(s.g.ctx, query, args, v))
}

func (s *spTx) Query(ctx context.Context, query string, args, v any) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.check(s.g.tx.Query(s.g.ctx, query, args, v))
}

func (s *spTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	r, err := s.g.tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}).ExecContext(s.g.ctx, query, args...)
	return r, s.check(err)
}

func (s *spTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	r, err := s.g.tx.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}).QueryContext(s.g.ctx, query, args...)
	return r, s.check(err)
}

// Commit releases the savepoint and returns the result of the group's
// commit.
func (s *spTx) Commit() error {
	if s.done {
		return sql.ErrTxDone
	}
	if err := s.usable(s.ctx); err != nil {
		_ = s.Rollback()
		if s.broke != nil {
			return s.broke // its function ignored it
		}
		return err
	}
	s.done = true
	if s.name == "" { // solo: the group's commit is the unit's
		s.u.signal(released)
		return <-s.u.result
	}
	if err := s.exec("RELEASE " + s.name); err != nil {
		s.g.broken = true
		s.u.signal(broken)
		return err
	}
	s.u.signal(released)
	return <-s.u.result
}

// Rollback undoes the savepoint; the group goes on without it.
func (s *spTx) Rollback() error {
	if s.done {
		return nil
	}
	s.done = true
	if s.g.broken {
		s.u.signal(broken)
		if s.broke != nil {
			return nil // undone with the group; its own error stands
		}
		return ErrGroupAborted
	}
	if s.name == "" { // solo: the group's transaction is rolled back whole
		s.u.signal(rolledBack)
		return nil
	}
	err := s.exec("ROLLBACK TO " + s.name)
	if err == nil {
		err = s.exec("RELEASE " + s.name)
	}
	if err != nil {
		s.g.broken = true
		s.u.signal(broken)
		return err
	}
	s.u.signal(rolledBack)
	return nil
}
