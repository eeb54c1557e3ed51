package escrow

import (
	"context"
	"fmt"

	"danbao/ent"
	"danbao/ent/event"
	"danbao/ent/schema/pulid"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"
)

// AuditKey is the payload key of a payment's outbox rows that holds the id
// of the audit row (PaymentEvent) of their transition.
const AuditKey = "auditId"

// EventSeq returns the seq of the last outbox row written with the audit
// row a (each transition writes one row per party, consecutively), and
// false when there is none (an audit row written before outbox rows named
// it). A reader resuming after it sees neither party's row of a again.
func (s *Service) EventSeq(ctx context.Context, a *ent.PaymentEvent) (int64, bool, error) {
	rows, err := s.client.Event.Query().
		Where(event.SubjectID(a.PaymentID), func(sel *sql.Selector) {
			sel.Where(sqljson.ValueEQ(event.FieldPayload, string(a.ID), sqljson.Path(AuditKey)))
		}).
		Order(ent.Desc(event.FieldSeq)).Limit(1).All(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("escrow: outbox rows of %s: %w", a.ID, err)
	}
	if len(rows) == 0 {
		return 0, false, nil
	}
	return rows[0].Seq, true, nil
}

// AuditRow returns the audit row (PaymentEvent) an outbox row of a payment
// transition was written with, and false for a row that names none.
func (s *Service) AuditRow(ctx context.Context, e *ent.Event) (*ent.PaymentEvent, bool, error) {
	id, _ := e.Payload[AuditKey].(string)
	if id == "" {
		return nil, false, nil
	}
	a, err := s.client.PaymentEvent.Get(ctx, pulid.ID(id))
	if err != nil {
		return nil, false, fmt.Errorf("escrow: audit row of event %d: %w", e.Seq, err)
	}
	return a, true, nil
}
