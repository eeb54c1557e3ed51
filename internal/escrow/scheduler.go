package escrow

import (
	"context"
	"time"

	"danbao/ent"
	"danbao/ent/payment"
	"danbao/ent/predicate"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
)

// deadline is one kind of due payment: in status, past the time the field
// says, the scheduler applies event.
type deadline struct {
	name   string // as the API names it (Payment.deadlines)
	status payment.Status
	due    func(now time.Time) predicate.Payment
	passed func(p *ent.Payment, now time.Time) bool
	event  Event
}

func passed(t *time.Time, now time.Time) bool { return t != nil && !t.After(now) }

var deadlineKinds = []deadline{
	{"authorizeBy", payment.StatusCREATED, payment.AuthorizeByLTE, func(p *ent.Payment, now time.Time) bool { return passed(p.AuthorizeBy, now) }, AuthorizationExpired},
	{"shipBy", payment.StatusPAID, payment.ShipByLTE, func(p *ent.Payment, now time.Time) bool { return passed(p.ShipBy, now) }, ShipExpired},
	{"autoConfirmAt", payment.StatusSHIPPED, payment.AutoConfirmAtLTE, func(p *ent.Payment, now time.Time) bool { return passed(p.AutoConfirmAt, now) }, AutoConfirm},
	{"refundAnswerBy", payment.StatusREFUND_REQUESTED, payment.RefundAnswerByLTE, func(p *ent.Payment, now time.Time) bool { return passed(p.RefundAnswerBy, now) }, RefundAnswerExpired},
}

// RunDue applies every deadline that has passed, at most batch payments of
// each kind, and returns how many transitions it made. Each goes through
// the same compare-and-set as a user's action, in a transaction of its
// own: a payment a user (or another instance) moved first is skipped, so
// several instances may run RunDue at once and each due payment is
// handled exactly once.
func (s *Service) RunDue(ctx context.Context, batch int) (int, error) {
	done := 0
	for _, k := range deadlineKinds {
		now := s.clock()
		ids, err := s.client.Payment.Query().
			Where(payment.StatusEQ(k.status), k.due(now)).
			Order(ent.Asc(payment.FieldID)).Limit(batch).IDs(ctx)
		if err != nil {
			return done, err
		}
		for _, id := range ids {
			ok, err := s.fire(ctx, id, k)
			if err != nil {
				return done, err
			}
			if ok {
				done++
			}
		}
	}
	return done, nil
}

// fire applies one deadline if it is still due. It reports false when the
// payment had moved on.
func (s *Service) fire(ctx context.Context, id pulid.ID, k deadline) (bool, error) {
	applied := false
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		applied = false
		p, err := tx.Payment.Get(ctx, id)
		if err != nil {
			return err
		}
		if p.Status != k.status || !k.passed(p, s.clock()) {
			return nil
		}
		_, err = s.apply(ctx, tx, p, step{req: Request{Event: k.event, Actor: System}})
		if err == nil {
			applied = true
		}
		return err
	})
	switch apperr.CodeOf(err) {
	case apperr.InvalidState, apperr.Conflict:
		return false, nil // a user or another instance won the race
	case "":
		return applied, nil
	}
	return false, err
}

// Run applies due deadlines every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.RunDue(ctx, 100); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "escrow deadlines", "error", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "escrow deadlines applied", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
