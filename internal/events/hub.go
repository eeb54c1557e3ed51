package events

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"sync"
	"time"

	"danbao/ent"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5/stdlib"
)

// Channel is the PostgreSQL notification channel of committed events.
const Channel = "danbao_events"

// HubConfig tunes a Hub.
type HubConfig struct {
	// Poll is how often the hub checks the head of the outbox, the
	// fallback that catches events whose wake-up was lost (another
	// instance on SQLite's file, a dropped LISTEN connection). Default 1s.
	Poll   time.Duration
	Logger *slog.Logger
}

// Hub wakes followers of the outbox when events commit. Wake-ups come from
// three sources: an ent hook on this client (after the writing transaction
// commits), on PostgreSQL a LISTEN on Channel (the statement that inserts
// a transaction's events also queues a NOTIFY, delivered at its commit; events
// written through ent are followed by one NOTIFY per burst of commits), and a poll of
// the head as the fallback. A wake-up carries no data: followers read the
// outbox, which is the truth.
type Hub struct {
	client  *ent.Client
	db      *sql.DB
	dialect string
	cfg     HubConfig

	mu        sync.Mutex
	waiters   map[*Waiter]struct{}
	followers int           // waiters that read the window (Follow), not only wake
	notify    chan struct{} // this instance committed: send NOTIFY (PostgreSQL)
	refresh   chan struct{} // something committed: read the new events into recent
	recent    recent
	self      string // this instance's NOTIFY payload, so that it skips its own
}

// refreshGap is how long the hub lets commits gather before it reads them
// (one read for all, instead of one per commit under load).
const refreshGap = 5 * time.Millisecond

// Waiter receives wake-ups on C (buffered; bursts coalesce into one).
type Waiter struct {
	C       chan struct{}
	follows bool
}

// NewHub returns a hub for client (whose pool is db, of the given ent
// dialect) and registers the after-commit hook on client's events. Call
// Run to start listening and polling.
func NewHub(client *ent.Client, db *sql.DB, dialectName string, cfg HubConfig) *Hub {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Hub{client: client, db: db, dialect: dialectName, cfg: cfg,
		waiters: map[*Waiter]struct{}{}, notify: make(chan struct{}, 1), refresh: make(chan struct{}, 1),
		self: rand.Text()}
	// Events flushed without ent (flushPostgres) NOTIFY themselves.
	committed.Store(client, local{wake: h.Refresh, self: h.self})
	client.Event.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return v, err
			}
			em, ok := m.(*ent.EventMutation)
			if !ok {
				return v, nil
			}
			tx, txErr := em.Tx()
			if txErr != nil { // not in a transaction: already committed
				h.Committed()
				return v, nil
			}
			tx.OnCommit(func(next ent.Committer) ent.Committer {
				return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
					err := next.Commit(ctx, tx)
					if err == nil {
						h.Committed()
					}
					return err
				})
			})
			return v, nil
		})
	})
	return h
}

// Subscribe returns a Waiter that receives every later wake-up; call
// Unsubscribe when done. Its owner reads the outbox itself: the hub keeps
// its window of recent events only for followers (Follow).
func (h *Hub) Subscribe() *Waiter { return h.subscribe(false) }

func (h *Hub) subscribe(follows bool) *Waiter {
	w := &Waiter{C: make(chan struct{}, 1), follows: follows}
	h.mu.Lock()
	h.waiters[w] = struct{}{}
	if follows {
		h.followers++
	}
	h.mu.Unlock()
	return w
}

// Unsubscribe stops wake-ups to w.
func (h *Hub) Unsubscribe(w *Waiter) {
	h.mu.Lock()
	if _, ok := h.waiters[w]; ok && w.follows {
		h.followers--
	}
	delete(h.waiters, w)
	h.mu.Unlock()
}

func (h *Hub) hasFollowers() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.followers > 0
}

// Waiters is the number of subscribed waiters (for metrics and tests).
func (h *Hub) Waiters() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiters)
}

// Wake wakes every waiter (without blocking: a waiter already woken stays
// woken once).
func (h *Hub) Wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.waiters {
		select {
		case w.C <- struct{}{}:
		default:
		}
	}
}

// Committed is called after a transaction that wrote events commits: it
// wakes local waiters and, on PostgreSQL, asks for a NOTIFY to the others.
func (h *Hub) Committed() {
	h.Refresh()
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

// Run listens (PostgreSQL), notifies and polls until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if h.dialect == dialect.Postgres {
		wg.Add(2)
		go func() { defer wg.Done(); h.listen(ctx) }()
		go func() { defer wg.Done(); h.sendNotifies(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); h.readRecent(ctx) }()
	h.poll(ctx)
	wg.Wait()
}

// Refresh asks the hub to read the newly committed events (once, for every
// follower) and then wake the followers.
func (h *Hub) Refresh() {
	select {
	case h.refresh <- struct{}{}:
	default:
	}
}

// readRecent keeps recent up to date while this instance has followers:
// on each refresh it reads every event after the last one it holds, in seq
// order, then wakes the followers, who find their events there instead of
// each querying the database.
func (h *Hub) readRecent(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.refresh:
		}
		// Under load every commit asks for a read: let the commits of the
		// next few milliseconds join this one.
		select {
		case <-ctx.Done():
			return
		case <-time.After(refreshGap):
		}
		if !h.hasFollowers() {
			// Nobody follows the outbox on this instance: reading what
			// committed would only fill a window no one asks for (under
			// load, a read every few milliseconds). Drop the window; a
			// follower that subscribes meanwhile reads the database, and
			// the next refresh that finds one starts a window at the head.
			h.recent.drop()
			h.Wake()
			continue
		}
		if !h.recent.held() {
			head, err := Head(ctx, h.client)
			if err != nil {
				if ctx.Err() == nil {
					h.cfg.Logger.WarnContext(ctx, "events: reading the head", "error", err)
				}
				h.Wake() // followers read the database
				continue
			}
			h.recent.reset(head)
		}
		for {
			rows, err := ReadAfter(ctx, h.client, h.recent.last(), MaxRead, Filter{})
			if err != nil {
				if ctx.Err() == nil {
					h.cfg.Logger.WarnContext(ctx, "events: reading new events", "error", err)
				}
				break
			}
			h.recent.add(rows)
			if len(rows) < MaxRead {
				break
			}
		}
		h.Wake()
	}
}

func (h *Hub) poll(ctx context.Context) {
	t := time.NewTicker(h.cfg.Poll)
	defer t.Stop()
	last, _ := Head(ctx, h.client)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		head, err := Head(ctx, h.client)
		if err != nil {
			if ctx.Err() == nil {
				h.cfg.Logger.WarnContext(ctx, "events: polling the outbox head", "error", err)
			}
			continue
		}
		if head != last {
			last = head
			h.Refresh()
		}
	}
}

// sendNotifies turns local commits into NOTIFYs, coalescing bursts: one
// NOTIFY wakes every listener, which then reads everything new.
func (h *Hub) sendNotifies(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.notify:
		}
		if _, err := h.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", Channel, h.self); err != nil && ctx.Err() == nil {
			h.cfg.Logger.WarnContext(ctx, "events: NOTIFY failed; other instances will see the events by polling", "error", err)
		}
	}
}

// listen holds one pooled connection in LISTEN, reconnecting after errors.
func (h *Hub) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := h.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		h.cfg.Logger.WarnContext(ctx, "events: LISTEN connection lost; polling until it is back", "error", err)
		h.Refresh() // anything may have been missed
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.cfg.Poll):
		}
	}
}

func (h *Hub) listenOnce(ctx context.Context) error {
	conn, err := h.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("events: LISTEN needs the pgx driver")
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+Channel); err != nil {
			return errors.Join(err, driver.ErrBadConn)
		}
		h.Refresh() // events may have committed before LISTEN took effect
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				// The connection is still LISTENing (or broken): never
				// hand it back to the pool.
				return errors.Join(err, driver.ErrBadConn)
			}
			if n.Payload == h.self {
				continue // this instance's commit: its hook has refreshed already
			}
			h.Refresh()
		}
	})
}
