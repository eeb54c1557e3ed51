package risk

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"danbao/ent"
	"danbao/ent/riskhold"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/idempotency"
	"danbao/internal/page"
)

// Kind is what an outflow is (ent riskhold.Kind values).
type Kind string

// The kinds of outflow risk assesses.
const (
	Payment    Kind = "PAYMENT"
	Withdrawal Kind = "WITHDRAWAL"
)

// Outflow is one payment authorization or withdrawal to assess.
type Outflow struct {
	Kind        Kind
	UserID      pulid.ID
	AmountMinor int64
	Currency    string
	// Counterparty is the payee of a payment (a withdrawal's card is the
	// user's own: no counterparty rule applies to it).
	Counterparty pulid.ID
	// SubjectID is the payment (a payment) being authorized, excluded
	// from the history; empty for a withdrawal not created yet.
	SubjectID pulid.ID
}

// Service assesses outflows inside their transactions and runs the
// operators' queue of held ones.
type Service struct {
	client   *ent.Client
	keys     *idempotency.Keys
	cfg      Config
	handlers map[Kind]Handler
	now      func() time.Time
}

// New returns a Service with the thresholds of cfg. now is the clock
// (time.Now when nil).
func New(client *ent.Client, keys *idempotency.Keys, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{client: client, keys: keys, cfg: cfg, handlers: map[Kind]Handler{}, now: now}
}

// Handle registers who applies operators' decisions on held outflows of
// kind k (escrow for payments, the wallet for withdrawals). Call it while
// wiring, before serving.
func (s *Service) Handle(k Kind, h Handler) { s.handlers[k] = h }

// Assess loads the facts of o inside the caller's transaction and applies
// the rules at now. Call it after the outflow's limits were recorded
// (limits.Record): that update locks the user's day counter, so on
// PostgreSQL concurrent outflows of one user and currency are assessed one
// after the other and each counts those committed before it.
func (s *Service) Assess(ctx context.Context, tx *ent.Tx, o Outflow, now time.Time) (Assessment, error) {
	f, err := s.Facts(ctx, tx, o, now)
	if err != nil {
		return Assessment{}, err
	}
	return Assess(s.cfg, f), nil
}

// factsSQL reads the facts of an outflow in one statement. f, one row:
// the user's credential changes and newest active passkey, their outflows
// (payments moved into escrow, $2 left out, and withdrawals) since $3 (a
// minute ago) and $4 (an hour ago), each kind counted up to $8 and $9
// (Config.countCaps; newest first, so that both engines walk the
// (payer_id, paid_at) and (user_id, created_at) indexes and stop at the
// cap), whether they paid $5 before (stopping
// at the first such payment), and whether $5 is frozen or restricted from
// collecting. r: the amounts of the user's latest outflows in currency $6,
// at most $7, newest first (a payment and a withdrawal at the same
// instant: the withdrawal first), merged from each table's newest $7 (the
// (payer_id, paid_at) and (user_id, created_at) indexes serve them, so
// the cost does not grow with the user's history). The result is f's row
// once per amount of r (once, with a NULL amount, when r is empty). Both
// are materialized: f's subqueries run once whatever r's size.
const factsSQL = `WITH f AS MATERIALIZED (
	SELECT u.password_changed_at AS pw, u.contact_changed_at AS contact, k.created_at AS pk,
		(SELECT COUNT(*) FROM (SELECT 1 FROM payments WHERE payer_id = $1 AND paid_at IS NOT NULL AND id <> $2 AND paid_at >= $3 ORDER BY paid_at DESC LIMIT $8) x) AS pay_min,
		(SELECT COUNT(*) FROM (SELECT 1 FROM payments WHERE payer_id = $1 AND paid_at IS NOT NULL AND id <> $2 AND paid_at >= $4 ORDER BY paid_at DESC LIMIT $9) x) AS pay_hour,
		(SELECT COUNT(*) FROM (SELECT 1 FROM withdrawals WHERE user_id = $1 AND created_at >= $3 ORDER BY created_at DESC LIMIT $8) x) AS wd_min,
		(SELECT COUNT(*) FROM (SELECT 1 FROM withdrawals WHERE user_id = $1 AND created_at >= $4 ORDER BY created_at DESC LIMIT $9) x) AS wd_hour,
		(SELECT COUNT(*) FROM (SELECT 1 FROM payments WHERE payer_id = $1 AND paid_at IS NOT NULL AND id <> $2 AND payee_id = $5 LIMIT 1) x) AS prior,
		(SELECT COUNT(*) FROM account_controls WHERE user_id = $5 AND (frozen OR collection_restricted)) AS flagged
	FROM users u LEFT JOIN passkeys k ON k.id = (SELECT id FROM passkeys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1)
	WHERE u.id = $1
), r AS MATERIALIZED (
	SELECT amount, at, kind FROM (
		SELECT amount, at, kind FROM (SELECT amount, paid_at AS at, 1 AS kind FROM payments
			WHERE payer_id = $1 AND paid_at IS NOT NULL AND id <> $2 AND currency = $6 ORDER BY paid_at DESC LIMIT $7) p
		UNION ALL
		SELECT amount, at, kind FROM (SELECT amount, created_at AS at, 0 AS kind FROM withdrawals
			WHERE user_id = $1 AND currency = $6 ORDER BY created_at DESC LIMIT $7) w
	) o ORDER BY at DESC, kind ASC LIMIT $7
)
SELECT f.pw, f.contact, f.pk, f.pay_min, f.pay_hour, f.wd_min, f.wd_hour, f.prior, f.flagged, r.amount
FROM f LEFT JOIN r ON 1 = 1 ORDER BY r.at DESC, r.kind ASC`

// Facts gathers what the rules need to know of o from the database, in tx,
// in one statement (factsSQL).
func (s *Service) Facts(ctx context.Context, tx *ent.Tx, o Outflow, now time.Time) (Facts, error) {
	now = now.UTC()
	f := Facts{Now: now, AmountMinor: o.AmountMinor}
	counterparty := ""
	if o.Kind == Payment {
		counterparty = string(o.Counterparty)
	}
	minuteCap, hourCap := s.cfg.countCaps()
	rows, err := tx.QueryContext(ctx, factsSQL, string(o.UserID), string(o.SubjectID), now.Add(-time.Minute),
		now.Add(-time.Hour), counterparty, o.Currency, s.cfg.History, minuteCap, hourCap)
	if err != nil {
		return f, fmt.Errorf("risk: facts: %w", err)
	}
	defer rows.Close()
	var pw, contact, key dbtx.NullTime
	var payMin, payHour, wdMin, wdHour, prior, flagged int
	var amount sql.NullInt64
	n := 0
	for ; rows.Next(); n++ {
		if err := rows.Scan(&pw, &contact, &key, &payMin, &payHour, &wdMin, &wdHour, &prior, &flagged, &amount); err != nil {
			return f, fmt.Errorf("risk: facts: %w", err)
		}
		if amount.Valid {
			f.Recent = append(f.Recent, amount.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("risk: facts: %w", err)
	}
	if n == 0 {
		return f, fmt.Errorf("risk: facts: no user %s", o.UserID)
	}
	if err := rows.Close(); err != nil {
		return f, err
	}
	f.LastMinute, f.LastHour = payMin+wdMin, payHour+wdHour
	f.NewestPasskeyAt, f.PasswordChangedAt, f.ContactChangedAt = key.Ptr(), pw.Ptr(), contact.Ptr()
	switch o.Kind {
	case Payment:
		f.PriorWithCounterparty = prior
		f.CounterpartyFlagged = flagged > 0
	case Withdrawal:
		// The card is the user's own, in their verified legal name (checked
		// when it was linked): the money goes to no third party, so no
		// counterparty rule applies.
		f.PriorWithCounterparty = 1
	}
	return f, nil
}

// Hold puts o, whose money the caller has just set aside (in escrow, or in
// withdrawal clearing), in the operators' queue, inside the caller's
// transaction. subject is the payment or withdrawal.
func (s *Service) Hold(ctx context.Context, tx *ent.Tx, o Outflow, subject pulid.ID, a Assessment) (*ent.RiskHold, error) {
	return tx.RiskHold.Create().SetKind(riskhold.Kind(o.Kind)).SetSubjectID(subject).SetUserID(o.UserID).
		SetAmount(o.AmountMinor).SetCurrency(o.Currency).SetReasons(a.ReasonStrings()).Save(ctx)
}

// HeldItems returns a page of held outflows in status (oldest first), for
// operators. Errors: INVALID_INPUT (page size).
func (s *Service) HeldItems(ctx context.Context, status riskhold.Status, first *int, after *ent.Cursor) (*ent.HeldItemConnection, error) {
	first, _, err := page.Bound(first, nil)
	if err != nil {
		return nil, err
	}
	return s.client.RiskHold.Query().Where(riskhold.StatusEQ(status)).Paginate(ctx, after, first, nil, nil)
}

// Verdict is an operator's decision on a held outflow.
type Verdict struct {
	Approve  bool
	Operator pulid.ID
	Note     string
}

// Handler applies a verdict to a held outflow of one kind inside tx, after
// the hold itself was decided in tx: an approval lets the outflow proceed
// (after, if not nil, runs once tx has committed: e.g. sending a payout to
// the bank), a rejection returns its money to the user with balanced
// postings and an event row.
type Handler interface {
	DecideHeld(ctx context.Context, tx *ent.Tx, h *ent.RiskHold, v Verdict) (after func(), err error)
}

// Decided is a held outflow after an operator's decision.
type Decided struct {
	Hold       *ent.RiskHold
	Payment    *ent.Payment
	Withdrawal *ent.Withdrawal
}

// DecideInput is the input of Decide.
type DecideInput struct {
	HoldID         pulid.ID
	Note           string
	IdempotencyKey string
}

// Decide applies an operator's approval or rejection to a held outflow,
// in one transaction with its idempotency key: the hold's HELD -> APPROVED
// or REJECTED compare-and-set, then the handler of its kind (the payment's
// or withdrawal's own transition and, on a rejection, the money back).
// Errors: INVALID_INPUT (note, idempotencyKey), NOT_FOUND (id),
// FORBIDDEN (the operator's own outflow), INVALID_STATE (already decided;
// extensions status), IDEMPOTENCY_CONFLICT, and those of the handler.
func (s *Service) Decide(ctx context.Context, operator pulid.ID, approve bool, in DecideInput) (*Decided, bool, error) {
	if err := idempotency.ValidateKey(in.IdempotencyKey); err != nil {
		return nil, false, err
	}
	note := strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(note) > 500 || !utf8.ValidString(note) {
		return nil, false, apperr.Invalid("note", "at most 500 characters")
	}
	notFound := apperr.New(apperr.NotFound, "no such held item").WithField("id")
	if !in.HoldID.Valid() || in.HoldID.Prefix() != pulid.PrefixRiskHold {
		return nil, false, notFound
	}
	op := "rejectHeld"
	if approve {
		op = "approveHeld"
	}
	req := idempotency.Request{Scope: string(operator), Key: in.IdempotencyKey, Operation: op,
		Hash: idempotency.RequestHash(op, string(in.HoldID), note), ResultID: string(in.HoldID)}
	var after func()
	out, replay, err := idempotency.Run(ctx, s.keys, s.client, req,
		func(tx *ent.Tx, id string) (*Decided, error) { return s.decided(ctx, tx, pulid.ID(id)) },
		func(tx *ent.Tx) (*Decided, string, error) {
			after = nil
			h, err := tx.RiskHold.Get(ctx, in.HoldID)
			if ent.IsNotFound(err) {
				return nil, "", notFound
			}
			if err != nil {
				return nil, "", err
			}
			if h.UserID == operator {
				// A hold is a second pair of eyes: the operator whose own
				// outflow it holds never decides it (as no operator reviews
				// their own verification).
				return nil, "", apperr.New(apperr.Forbidden, "operators cannot decide their own held item").WithField("id")
			}
			handler, ok := s.handlers[Kind(h.Kind)]
			if !ok {
				return nil, "", apperr.New(apperr.InvalidState, "no handler for held %s", h.Kind)
			}
			to := riskhold.StatusREJECTED
			if approve {
				to = riskhold.StatusAPPROVED
			}
			now := s.now().UTC().Truncate(time.Microsecond)
			n, err := tx.RiskHold.Update().Where(riskhold.ID(h.ID), riskhold.StatusEQ(riskhold.StatusHELD)).
				SetStatus(to).SetDecidedBy(operator).SetDecidedAt(now).SetNote(note).SetUpdatedAt(now).Save(ctx)
			if err != nil {
				return nil, "", err
			}
			if n == 0 {
				return nil, "", apperr.New(apperr.InvalidState, "this item was already decided (%s)", h.Status).
					WithField("id").With("status", string(h.Status))
			}
			if after, err = handler.DecideHeld(ctx, tx, h, Verdict{Approve: approve, Operator: operator, Note: note}); err != nil {
				return nil, "", err
			}
			d, err := s.decided(ctx, tx, h.ID)
			return d, string(h.ID), err
		})
	if err != nil {
		return nil, false, err
	}
	if after != nil && !replay {
		after()
	}
	return out, replay, nil
}

// decided loads a hold and its subject.
func (s *Service) decided(ctx context.Context, tx *ent.Tx, id pulid.ID) (*Decided, error) {
	h, err := tx.RiskHold.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &Decided{Hold: h}
	switch Kind(h.Kind) {
	case Payment:
		d.Payment, err = tx.Payment.Get(ctx, h.SubjectID)
	case Withdrawal:
		d.Withdrawal, err = tx.Withdrawal.Get(ctx, h.SubjectID)
	}
	return d, err
}
