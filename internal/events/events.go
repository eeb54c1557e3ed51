// Package events is danbao's transactional outbox. An event row is written
// in the same database transaction as the change it describes, so an event
// exists if and only if its change committed.
//
// Invariant: event seq values are 1, 2, 3... in commit order. Append takes
// the next value by updating the "events" counter row, whose lock (on
// PostgreSQL) is held until commit, so a reader following seq never passes
// over an event that commits later. Callers that also post to the ledger
// post first: the lock order is ledger counter, then events counter.
package events

import (
	"context"
	"fmt"
	"time"

	"danbao/ent"
	"danbao/ent/counter"
	"danbao/ent/schema/pulid"
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

// Append writes e in tx with the next sequence number and returns the row.
func Append(ctx context.Context, tx *ent.Tx, e Event) (*ent.Event, error) {
	c, err := tx.Counter.UpdateOneID(CounterID).AddValue(1).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("events: next seq: %w", err)
	}
	if e.Payload == nil {
		e.Payload = map[string]any{}
	}
	row, err := tx.Event.Create().
		SetSeq(c.Value).SetType(e.Type).SetSubjectID(e.SubjectID).
		SetUserID(e.UserID).SetPartnerID(e.PartnerID).SetPayload(e.Payload).
		SetCreatedAt(time.Now().UTC().Truncate(time.Microsecond)).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("events: append: %w", err)
	}
	return row, nil
}

// EnsureCounter creates the counter row if it does not exist.
func EnsureCounter(ctx context.Context, client *ent.Client) error {
	return client.Counter.Create().SetID(CounterID).SetValue(0).
		OnConflictColumns(counter.FieldID).Ignore().Exec(ctx)
}
