// Package events is danbao's transactional outbox. An event row is written
// in the same database transaction as the change it describes, so an event
// exists if and only if its change committed.
//
// Invariant: event seq values are 1, 2, 3... in commit order. The rows
// Append records are written when their transaction commits
// (dbtx.Deferred): the flush takes the next values by updating the
// "events" counter row, whose lock (on PostgreSQL) is held until commit,
// so a reader following seq never passes over an event that commits
// later. The flush runs after the ledger's, whatever order the calls came
// in: the lock order is ledger counter, then events counter.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"danbao/ent"
	"danbao/ent/counter"
	"danbao/ent/event"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"

	"entgo.io/ent/dialect"
)

// CounterID is the counter row of the event sequence.
const CounterID = "events"

// Event is a change to record.
type Event struct {
	Type      string // e.g. "topup.succeeded"
	SubjectID pulid.ID
	UserID    pulid.ID // whose event it is; may be empty
	PartnerID pulid.ID // the partner app that may also see it (it created the payment); may be empty
	Payload   map[string]any
}

// Append records e in tx and returns its row. The row is written, with
// the next sequence number, when tx commits (dbtx.Deferred, after the
// ledger's rows): the counter row's lock is taken then and held to the
// commit only. The returned row has its ID at once and its Seq once tx has
// committed.
func Append(ctx context.Context, tx *ent.Tx, e Event) (*ent.Event, error) {
	if e.Payload == nil {
		e.Payload = map[string]any{}
	}
	row := &ent.Event{ID: pulid.New(pulid.PrefixEvent), Type: e.Type, SubjectID: e.SubjectID,
		UserID: e.UserID, PartnerID: e.PartnerID, Payload: e.Payload,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	q := dbtx.Deferred(tx, flushKey, func() *outbox { return &outbox{} })
	q.rows = append(q.rows, row)
	return row, nil
}

// flushKey orders the events' flush after the ledger's ("1 ledger").
const flushKey = "2 events"

// outbox is the events a transaction appended, written at its commit.
type outbox struct{ rows []*ent.Event }

// Flush takes the next len(rows) sequence numbers from the counter row
// (locking it until the commit) and writes the rows in the order they
// were appended.
func (q *outbox) Flush(ctx context.Context, tx *ent.Tx) error {
	if len(q.rows) == 0 { // none appended, or written by Join's caller
		return nil
	}
	o, ok := dbtx.OriginOf(tx)
	if ok && o.Dialect == dialect.Postgres {
		return q.flushPostgres(ctx, tx, o.Client)
	}
	n := int64(len(q.rows))
	var last int64
	if err := dbtx.QueryRow(ctx, tx, []any{&last},
		`UPDATE counters SET value = value + $1 WHERE id = $2 RETURNING value`, n, CounterID); err != nil {
		return fmt.Errorf("events: next seq: %w", err)
	}
	numbered(q.rows, last)
	if ok {
		return q.insertSQLite(ctx, tx, o.Client)
	}
	creates := make([]*ent.EventCreate, len(q.rows))
	for i, r := range q.rows {
		creates[i] = tx.Event.Create().SetID(r.ID).
			SetSeq(r.Seq).SetType(r.Type).SetSubjectID(r.SubjectID).
			SetUserID(r.UserID).SetPartnerID(r.PartnerID).SetPayload(r.Payload).
			SetCreatedAt(r.CreatedAt)
	}
	for c := range slices.Chunk(creates, dbtx.BulkRows) {
		if err := tx.Event.CreateBulk(c...).Exec(ctx); err != nil {
			return fmt.Errorf("events: append: %w", err)
		}
	}
	return nil
}

// eventColumns are the columns insertSQLite writes, in its arguments'
// order.
var eventColumns = []string{"id", "seq", "type", "subject_id", "user_id", "partner_id", "payload", "created_at"}

// insertSQLite writes the numbered rows with statements of its own (ent's
// bulk create costs the one writer's turn about as much again as SQLite's
// own work), encoded as ent encodes them: the payload as JSON bytes. The
// rows bypass ent, so the wake-up of client's Hub that ent's hook would
// register is registered here.
func (q *outbox) insertSQLite(ctx context.Context, tx *ent.Tx, client *ent.Client) error {
	wakeAfterCommit(tx, client)
	for chunk := range slices.Chunk(q.rows, dbtx.BulkRows) {
		args := make([]any, 0, len(chunk)*len(eventColumns))
		for _, r := range chunk {
			if err := checked(r); err != nil {
				return err
			}
			payload, err := json.Marshal(r.Payload)
			if err != nil {
				return fmt.Errorf("events: payload: %w", err)
			}
			args = append(args, string(r.ID), r.Seq, r.Type, string(r.SubjectID), string(r.UserID), string(r.PartnerID), payload, r.CreatedAt)
		}
		if _, err := tx.ExecContext(ctx, dbtx.Insert("events", eventColumns, len(chunk)), args...); err != nil {
			return fmt.Errorf("events: append: %w", err)
		}
	}
	q.rows = nil
	return nil
}

// insertPostgres numbers and inserts the events in one statement: the
// counter's lock is then held for that statement and the commit only. The
// same statement queues the NOTIFY on Channel that wakes the other
// instances' hubs: PostgreSQL delivers it when the transaction commits
// (and drops it if it rolls back), with no round trip of its own. Its
// payload names the sending instance, whose own listener skips it.
var insertPostgres = "WITH " + insertCTEs(0) + "\nSELECT " + lastValue

// lastValue is what insertPostgres (and the statements that Join the
// events) select: the counter's new value, always in one row. Without the
// counter row ec is empty and nothing is inserted, so the division by
// its row count makes that an error: the statement may be sent with the
// COMMIT (dbtx.QueryRowAtCommit), which PostgreSQL would run after a
// statement that returned no row.
const lastValue = "COALESCE((SELECT value FROM ec), 0) / (SELECT count(*) FROM ec, en)"

// insertCTEs is insertPostgres's WITH clauses (ec, the counter's new
// value; ei, the insert; en, the NOTIFY), their parameters numbered from
// $base+1 (the arguments of insertArgs). With after, the name of another
// CTE of the statement, the counter is updated only once that CTE has run
// (an InitPlan reads it first): the lock order of JoinAfter.
func insertCTEs(base int, after ...string) string {
	p := func(i int) string { return "$" + strconv.Itoa(base+i) }
	first := ""
	for _, a := range after {
		first += ` AND EXISTS (SELECT 1 FROM ` + a + `)`
	}
	return `ec AS (UPDATE counters SET value = value + ` + p(1) + ` WHERE id = ` + p(2) + first + ` RETURNING value),
ei AS (INSERT INTO events (id, seq, type, subject_id, user_id, partner_id, payload, created_at)
	SELECT u.id, ec.value - ` + p(1) + ` + u.ord, u.type, u.subject_id, u.user_id, u.partner_id, u.payload, u.created_at
	FROM ec, unnest(` + p(3) + `::text[], ` + p(4) + `::text[], ` + p(5) + `::text[], ` + p(6) + `::text[], ` + p(7) + `::text[], ` + p(8) + `::jsonb[], ` + p(9) + `::timestamptz[])
		WITH ORDINALITY AS u(id, type, subject_id, user_id, partner_id, payload, created_at, ord)),
en AS (SELECT pg_notify('` + Channel + `', ` + p(10) + `))`
}

// checked runs ent's validators of an event written without ent.
func checked(r *ent.Event) error {
	if err := errors.Join(event.IDValidator(string(r.ID)), event.TypeValidator(r.Type)); err != nil {
		return fmt.Errorf("events: %s %s: %w", r.Type, r.ID, err)
	}
	return nil
}

// insertArgs is the arguments of insertCTEs for rows.
func insertArgs(rows []*ent.Event, self string) ([]any, error) {
	n := len(rows)
	ids, types, subjects, users, partners, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	for i, r := range rows {
		if err := checked(r); err != nil {
			return nil, err
		}
		payload, err := json.Marshal(r.Payload)
		if err != nil {
			return nil, fmt.Errorf("events: payload: %w", err)
		}
		ids[i], types[i], subjects[i], users[i], partners[i], payloads[i], times[i] =
			string(r.ID), r.Type, string(r.SubjectID), string(r.UserID), string(r.PartnerID), string(payload), r.CreatedAt
	}
	return []any{n, CounterID, ids, types, subjects, users, partners, payloads, times, self}, nil
}

// numbered gives rows the seq values up to last.
func numbered(rows []*ent.Event, last int64) {
	for i, r := range rows {
		r.Seq = last - int64(len(rows)) + int64(i) + 1
	}
}

// flushPostgres is Flush in one statement per BulkRows events. The rows
// bypass ent, so the local wake-up that ent's hook registers for the Hub
// of the client (NewHub) is registered here; the other instances are
// woken by the statement's NOTIFY.
func (q *outbox) flushPostgres(ctx context.Context, tx *ent.Tx, client *ent.Client) error {
	self := wakeAfterCommit(tx, client)
	rows := q.rows
	q.rows = nil
	for chunk := range slices.Chunk(rows, dbtx.BulkRows) {
		args, err := insertArgs(chunk, self)
		if err != nil {
			return err
		}
		// The last chunk goes with the COMMIT when nothing follows it.
		last := new(int64)
		if err := dbtx.QueryRowAtCommit(ctx, tx, []any{last}, func(err error) error {
			if err != nil {
				return fmt.Errorf("events: append: %w", err)
			}
			numbered(chunk, *last)
			return nil
		}, insertPostgres, args...); err != nil {
			return err
		}
	}
	return nil
}

// wakeAfterCommit registers, for events written without ent, the wake-up
// of client's Hub after tx commits, and returns the NOTIFY payload naming
// this instance ("" with no hub: every listener refreshes).
func wakeAfterCommit(tx *ent.Tx, client *ent.Client) string {
	hub, ok := committed.Load(client)
	if !ok {
		return ""
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				hub.(local).wake()
			}
			return err
		})
	})
	return hub.(local).self
}

// Joined is the outbox of a transaction written by another flusher's
// statement (the ledger's, on PostgreSQL): CTEs to put in that statement's
// WITH, Value to select at its end (the events counter's new value, in one
// row or an error), Args to append to its arguments, and Done to call with
// the value selected.
type Joined struct {
	CTEs  string
	Value string
	Args  []any
	Done  func(last int64)
}

// Join hands the events tx appended to a flusher that runs before the
// outbox's own (the ledger's, whose statement locks the ledger counter
// first) and writes them in its own PostgreSQL statement, numbering their
// parameters from $base+1; the outbox's Flush then writes nothing. ok is
// false, and nothing is taken, when there are none, more than one
// statement's worth, or tx is not a PostgreSQL transaction of WithTx.
func Join(tx *ent.Tx, base int) (j Joined, ok bool, err error) { return join(tx, base) }

// JoinAfter is Join for a statement that locks another counter first, in
// its CTE after: the events counter is updated only once that CTE has run.
func JoinAfter(tx *ent.Tx, base int, after string) (j Joined, ok bool, err error) {
	return join(tx, base, after)
}

func join(tx *ent.Tx, base int, after ...string) (j Joined, ok bool, err error) {
	o, isTx := dbtx.OriginOf(tx)
	if !isTx || o.Dialect != dialect.Postgres {
		return Joined{}, false, nil
	}
	q, found := dbtx.Registered[*outbox](tx, flushKey)
	if !found || len(q.rows) == 0 || len(q.rows) > dbtx.BulkRows {
		return Joined{}, false, nil
	}
	rows := q.rows
	args, err := insertArgs(rows, wakeAfterCommit(tx, o.Client))
	if err != nil {
		return Joined{}, false, err
	}
	q.rows = nil
	return Joined{CTEs: insertCTEs(base, after...), Value: lastValue, Args: args,
		Done: func(last int64) { numbered(rows, last) }}, true, nil
}

// committed holds, per client, its Hub's local wake-up and NOTIFY payload
// (NewHub).
var committed sync.Map // *ent.Client -> local

type local struct {
	wake func()
	self string // the payload of this instance's NOTIFYs: its listener skips them
}

// EnsureCounter creates the counter row if it does not exist.
func EnsureCounter(ctx context.Context, client *ent.Client) error {
	return client.Counter.Create().SetID(CounterID).SetValue(0).
		OnConflictColumns(counter.FieldID).Ignore().Exec(ctx)
}
