package risk

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"danbao/ent"
	"danbao/ent/accountcontrol"
	"danbao/ent/passkey"
	"danbao/ent/payment"
	"danbao/ent/riskhold"
	"danbao/ent/schema/pulid"
	"danbao/ent/user"
	"danbao/ent/withdrawal"
	"danbao/internal/apperr"
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

// Facts gathers what the rules need to know of o from the database, in tx.
func (s *Service) Facts(ctx context.Context, tx *ent.Tx, o Outflow, now time.Time) (Facts, error) {
	now = now.UTC()
	f := Facts{Now: now, AmountMinor: o.AmountMinor}
	paid := tx.Payment.Query().Where(payment.PayerID(o.UserID), payment.PaidAtNotNil())
	if o.SubjectID != "" {
		paid.Where(payment.IDNEQ(o.SubjectID))
	}
	var err error
	// Only the columns the rules read (a payment row carries its
	// authorization evidence); the (payer_id, paid_at) index serves the
	// order and the counts below, so their cost does not grow with the
	// user's history.
	pays, err := paid.Clone().Where(payment.Currency(o.Currency)).Order(ent.Desc(payment.FieldPaidAt)).
		Limit(s.cfg.History).Select(payment.FieldAmount, payment.FieldPaidAt).All(ctx)
	if err != nil {
		return f, err
	}
	wds, err := tx.Withdrawal.Query().Where(withdrawal.UserID(o.UserID), withdrawal.Currency(o.Currency)).
		Order(ent.Desc(withdrawal.FieldCreatedAt)).Limit(s.cfg.History).
		Select(withdrawal.FieldAmount, withdrawal.FieldCreatedAt).All(ctx)
	if err != nil {
		return f, err
	}
	f.Recent = newest(pays, wds, s.cfg.History)
	count := func(since time.Time) (int, error) {
		p, err := paid.Clone().Where(payment.PaidAtGTE(since)).Count(ctx)
		if err != nil {
			return 0, err
		}
		w, err := tx.Withdrawal.Query().Where(withdrawal.UserID(o.UserID), withdrawal.CreatedAtGTE(since)).Count(ctx)
		return p + w, err
	}
	if f.LastMinute, err = count(now.Add(-time.Minute)); err != nil {
		return f, err
	}
	if f.LastHour, err = count(now.Add(-time.Hour)); err != nil {
		return f, err
	}
	newestKey, err := tx.Passkey.Query().Where(passkey.UserID(o.UserID), passkey.RevokedAtIsNil()).
		Order(ent.Desc(passkey.FieldCreatedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return f, err
	}
	if newestKey != nil {
		f.NewestPasskeyAt = &newestKey.CreatedAt
	}
	u, err := tx.User.Query().Where(user.ID(o.UserID)).Only(ctx)
	if err != nil {
		return f, err
	}
	f.PasswordChangedAt, f.ContactChangedAt = u.PasswordChangedAt, u.ContactChangedAt
	switch o.Kind {
	case Payment:
		// Whether there is one is all the rule asks (no count of them all).
		prior, err := paid.Clone().Where(payment.PayeeID(o.Counterparty)).Exist(ctx)
		if err != nil {
			return f, err
		}
		if prior {
			f.PriorWithCounterparty = 1
		}
		ctl, err := tx.AccountControl.Query().Where(accountcontrol.UserID(o.Counterparty)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return f, err
		}
		f.CounterpartyFlagged = ctl != nil && (ctl.Frozen || ctl.CollectionRestricted)
	case Withdrawal:
		// The card is the user's own, in their verified legal name (checked
		// when it was linked): the money goes to no third party, so no
		// counterparty rule applies.
		f.PriorWithCounterparty = 1
	}
	return f, nil
}

// newest merges the amounts of payments and withdrawals (each newest
// first) into at most n amounts, newest first.
func newest(pays []*ent.Payment, wds []*ent.Withdrawal, n int) []int64 {
	var out []int64
	i, j := 0, 0
	for len(out) < n && (i < len(pays) || j < len(wds)) {
		if j >= len(wds) || (i < len(pays) && pays[i].PaidAt.After(wds[j].CreatedAt)) {
			out = append(out, pays[i].Amount)
			i++
		} else {
			out = append(out, wds[j].Amount)
			j++
		}
	}
	return out
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
// INVALID_STATE (already decided; extensions status), IDEMPOTENCY_CONFLICT,
// and those of the handler.
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
		Hash: idempotency.RequestHash(op, string(in.HoldID), note)}
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
