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
	"fmt"
	"slices"
	"sync"
	"time"

	"danbao/ent"
	"danbao/ent/counter"
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
	if o, ok := dbtx.OriginOf(tx); ok && o.Dialect == dialect.Postgres {
		return q.flushPostgres(ctx, tx, o.Client)
	}
	n := int64(len(q.rows))
	var last int64
	if err := dbtx.QueryRow(ctx, tx, []any{&last},
		`UPDATE counters SET value = value + $1 WHERE id = $2 RETURNING value`, n, CounterID); err != nil {
		return fmt.Errorf("events: next seq: %w", err)
	}
	creates := make([]*ent.EventCreate, len(q.rows))
	for i, r := range q.rows {
		r.Seq = last - n + int64(i) + 1
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

// insertPostgres numbers and inserts the events in one statement: the
// counter's lock is then held for that statement and the commit only. The
// same statement queues the NOTIFY on Channel that wakes the other
// instances' hubs: PostgreSQL delivers it when the transaction commits
// (and drops it if it rolls back), with no round trip of its own. Its
// payload names the sending instance, whose own listener skips it.
const insertPostgres = `WITH c AS (UPDATE counters SET value = value + $1 WHERE id = $2 RETURNING value),
ins AS (INSERT INTO events (id, seq, type, subject_id, user_id, partner_id, payload, created_at)
	SELECT u.id, c.value - $1 + u.ord, u.type, u.subject_id, u.user_id, u.partner_id, u.payload, u.created_at
	FROM c, unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::timestamptz[])
		WITH ORDINALITY AS u(id, type, subject_id, user_id, partner_id, payload, created_at, ord)),
n AS (SELECT pg_notify('` + Channel + `', $10))
SELECT c.value FROM c, n`

// flushPostgres is Flush in one statement per BulkRows events. The rows
// bypass ent, so the local wake-up that ent's hook registers for the Hub
// of the client (NewHub) is registered here; the other instances are
// woken by the statement's NOTIFY.
func (q *outbox) flushPostgres(ctx context.Context, tx *ent.Tx, client *ent.Client) error {
	hub, ok := committed.Load(client)
	self := "" // no hub: every listener refreshes
	if ok {
		self = hub.(local).self
	}
	for chunk := range slices.Chunk(q.rows, dbtx.BulkRows) {
		n := len(chunk)
		ids, types, subjects, users, partners, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		times := make([]time.Time, n)
		for i, r := range chunk {
			payload, err := json.Marshal(r.Payload)
			if err != nil {
				return fmt.Errorf("events: payload: %w", err)
			}
			ids[i], types[i], subjects[i], users[i], partners[i], payloads[i], times[i] =
				string(r.ID), r.Type, string(r.SubjectID), string(r.UserID), string(r.PartnerID), string(payload), r.CreatedAt
		}
		var last int64
		err := dbtx.QueryRow(ctx, tx, []any{&last}, insertPostgres,
			n, CounterID, ids, types, subjects, users, partners, payloads, times, self)
		if err != nil {
			return fmt.Errorf("events: append: %w", err)
		}
		for i, r := range chunk {
			r.Seq = last - int64(n) + int64(i) + 1
		}
	}
	if ok {
		tx.OnCommit(func(next ent.Committer) ent.Committer {
			return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
				err := next.Commit(ctx, tx)
				if err == nil {
					hub.(local).wake()
				}
				return err
			})
		})
	}
	return nil
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
