package escrow

import (
	"context"
	"slices"
	"strings"
	"time"

	"danbao/ent"
	"danbao/ent/accountcontrol"
	"danbao/ent/payment"
	"danbao/ent/paymentevent"
	"danbao/ent/schema/pulid"
	"danbao/ent/user"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/idempotency"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/page"

	"entgo.io/contrib/entgql"
)

// requireFund refuses a compensation the protection fund cannot pay.
func (s *Service) requireFund(ctx context.Context, tx *ent.Tx, c money.Currency, amount int64) error {
	fund, err := s.ledger.PlatformAccount(ctx, tx, ledger.KindProtectionFund, c)
	if err != nil {
		return err
	}
	if fund.Balance < amount {
		return apperr.New(apperr.InsufficientFunds, "the protection fund holds %s %s: fund it first", money.FormatMinor(fund.Balance, c), c).
			WithField("refundAmount").With("account", "PROTECTION_FUND").With("available", money.FormatMinor(fund.Balance, c))
	}
	return nil
}

// FundProtectionInput is the input of FundProtection.
type FundProtectionInput struct {
	Amount         string
	Currency       string
	IdempotencyKey string
}

// FundProtection adds the platform's own money, deposited into custody, to
// the protection fund that compensates buyers. Same key and input: replay.
// It returns the fund's balance afterwards (minor units). Errors:
// FORBIDDEN (not an operator), INVALID_INPUT (amount, currency,
// idempotencyKey), IDEMPOTENCY_CONFLICT.
func (s *Service) FundProtection(ctx context.Context, who Caller, in FundProtectionInput) (int64, money.Currency, bool, error) {
	if !who.Operator {
		return 0, "", false, apperr.New(apperr.Forbidden, "only an operator may fund the protection fund")
	}
	if err := idempotency.ValidateKey(in.IdempotencyKey); err != nil {
		return 0, "", false, err
	}
	c, err := money.ParseCurrency(in.Currency)
	if err != nil {
		return 0, "", false, err
	}
	amount, err := money.ParsePositive(in.Amount, c)
	if err != nil {
		return 0, "", false, err
	}
	ltx := pulid.New(pulid.PrefixLedgerTransaction) // the funding's journal transaction
	req := idempotency.Request{Scope: string(who.UserID), Key: in.IdempotencyKey, Operation: "fundProtection",
		Hash:     idempotency.RequestHash("fundProtection", money.FormatMinor(amount, c), string(c)),
		ResultID: string(ltx)}
	_, replay, err := idempotency.Run(ctx, s.keys, s.client, req,
		func(tx *ent.Tx, id string) (string, error) { return id, nil },
		func(tx *ent.Tx) (string, string, error) {
			custody, err := s.ledger.PlatformAccount(ctx, tx, ledger.KindCustody, c)
			if err != nil {
				return "", "", err
			}
			fund, err := s.ledger.PlatformAccount(ctx, tx, ledger.KindProtectionFund, c)
			if err != nil {
				return "", "", err
			}
			posted, err := s.ledger.Post(ctx, tx, ledger.Entry{ID: ltx, Kind: EntryProtectionFunding, Currency: c,
				Memo: "funded by operator " + string(who.UserID),
				Legs: []ledger.Leg{ledger.On(custody, -amount), ledger.On(fund, amount)}})
			if err != nil {
				return "", "", err
			}
			if _, err := events.Append(ctx, tx, events.Event{Type: "protection.funded", SubjectID: posted.Transaction.ID,
				UserID: who.UserID, Payload: map[string]any{"amount": money.FormatMinor(amount, c), "currency": string(c)}}); err != nil {
				return "", "", err
			}
			return string(posted.Transaction.ID), string(posted.Transaction.ID), nil
		})
	if err != nil {
		return 0, "", false, err
	}
	bal, err := s.ProtectionFund(ctx, c)
	return bal, c, replay, err
}

// ProtectionFund returns the protection fund's balance in c (minor units).
func (s *Service) ProtectionFund(ctx context.Context, c money.Currency) (int64, error) {
	var bal int64
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		a, err := s.ledger.PlatformAccount(ctx, tx, ledger.KindProtectionFund, c)
		if err == nil {
			bal = a.Balance
		}
		return err
	})
	return bal, err
}

// ControlInput is the input of FreezeAccount and RestrictCollection.
type ControlInput struct {
	UserID pulid.ID
	On     bool   // true freezes/restricts, false lifts it
	Reason string // required, at most 500 characters
}

// FreezeAccount freezes (On) or unfreezes a wallet: a frozen wallet can
// neither pay nor withdraw. The change, with the reason and the operator,
// is written to the event log. Errors: FORBIDDEN (not an operator, or
// the operator's own wallet), INVALID_INPUT (reason), NOT_FOUND (userId).
func (s *Service) FreezeAccount(ctx context.Context, who Caller, in ControlInput) (*ent.AccountControl, error) {
	return s.control(ctx, who, in, "account.frozen", "account.unfrozen", func(u *ent.AccountControlUpdate, reason string) {
		u.SetFrozen(in.On).SetFrozenReason(reason)
	})
}

// RestrictCollection restricts (On) or lets again a wallet receive
// payments. Errors: as FreezeAccount.
func (s *Service) RestrictCollection(ctx context.Context, who Caller, in ControlInput) (*ent.AccountControl, error) {
	return s.control(ctx, who, in, "account.collection_restricted", "account.collection_allowed", func(u *ent.AccountControlUpdate, reason string) {
		u.SetCollectionRestricted(in.On).SetRestrictionReason(reason)
	})
}

// control applies set to in.UserID's controls in one transaction, after
// each of guards (run in it, first) allowed it.
func (s *Service) control(ctx context.Context, who Caller, in ControlInput, onType, offType string, set func(*ent.AccountControlUpdate, string),
	guards ...func(*ent.Tx) error) (*ent.AccountControl, error) {
	if !who.Operator {
		return nil, apperr.New(apperr.Forbidden, "only an operator may do this")
	}
	if in.UserID == who.UserID {
		// Else a frozen operator lifts their own freeze (or restriction)
		// and pays or collects again: another operator decides.
		return nil, apperr.New(apperr.Forbidden, "operators cannot change the controls on their own wallet").WithField("userId")
	}
	reason, err := text("reason", in.Reason, 500)
	if err == nil && reason == "" {
		err = apperr.Invalid("reason", "say why")
	}
	if err != nil {
		return nil, err
	}
	var out *ent.AccountControl
	err = dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		if n, err := tx.User.Query().Where(user.ID(in.UserID)).Count(ctx); err != nil || n == 0 {
			if err == nil {
				err = apperr.New(apperr.NotFound, "no such user").WithField("userId")
			}
			return err
		}
		for _, guard := range guards {
			if err := guard(tx); err != nil {
				return err
			}
		}
		if err := tx.AccountControl.Create().SetUserID(in.UserID).
			OnConflictColumns(accountcontrol.FieldUserID).Ignore().Exec(ctx); err != nil {
			return err
		}
		u := tx.AccountControl.Update().Where(accountcontrol.UserID(in.UserID)).SetUpdatedBy(who.UserID).SetUpdatedAt(s.clock())
		set(u, reason)
		if _, err := u.Save(ctx); err != nil {
			return err
		}
		typ := onType
		if !in.On {
			typ = offType
		}
		if _, err := events.Append(ctx, tx, events.Event{Type: typ, SubjectID: in.UserID, UserID: in.UserID,
			Payload: map[string]any{"reason": reason, "operatorId": string(who.UserID)}}); err != nil {
			return err
		}
		out, err = tx.AccountControl.Query().Where(accountcontrol.UserID(in.UserID)).Only(ctx)
		return err
	})
	return out, err
}

// Payment returns a payment its payer, payee or an operator may see.
// Errors: NOT_FOUND (also for anyone else).
func (s *Service) Payment(ctx context.Context, who Caller, id pulid.ID) (*ent.Payment, error) {
	p, _, err := s.load(ctx, s.client, who, id)
	return p, err
}

// MaySeeEvidence reports whether who may read p's authorization evidence:
// the payer and operators.
func MaySeeEvidence(who Caller, p *ent.Payment) bool { return who.Operator || who.UserID == p.PayerID }

// payerOnly lists the keys of an audit row's detail that only the payer
// and operators see: the passkey evidence, risk's decision and reasons
// (docs/design.md, Risk: never shown to the seller), and why an
// authorization failed.
var payerOnly = []string{"evidence", "risk", "code"}

// DetailFor returns the detail of p's audit row as who may read it: whole
// for the payer and operators (MaySeeEvidence), without the payer's own
// keys (payerOnly) for the seller and for a caller who is no user (who
// nil: a partner app).
func DetailFor(who *Caller, p *ent.Payment, detail map[string]any) map[string]any {
	if len(detail) == 0 {
		return nil
	}
	if who != nil && MaySeeEvidence(*who, p) {
		return detail
	}
	out := make(map[string]any, len(detail))
	for k, v := range detail {
		if !slices.Contains(payerOnly, k) {
			out[k] = v
		}
	}
	return out
}

// Page is a Relay page request.
type Page = ledger.Page

// Filter narrows a user's payments.
type Filter struct {
	Role     Actor // Payer, Payee or "" for both
	Statuses []State
	From, To *time.Time // created in [From, To)
}

// Payments returns a page of the user's payments, newest first, by keyset
// pagination on the ID (a ULID: creation order). Errors: INVALID_INPUT (page sizes outside
// 0..100, both first and last).
func (s *Service) Payments(ctx context.Context, userID pulid.ID, p Page, f Filter) (*ent.PaymentConnection, error) {
	if err := checkPage(&p); err != nil {
		return nil, err
	}
	q := s.client.Payment.Query()
	switch f.Role {
	case Payer:
		q.Where(payment.PayerID(userID))
	case Payee:
		q.Where(payment.PayeeID(userID))
	default:
		q.Where(payment.Or(payment.PayerID(userID), payment.PayeeID(userID)))
	}
	if len(f.Statuses) > 0 {
		st := make([]payment.Status, len(f.Statuses))
		for i, v := range f.Statuses {
			st[i] = payment.Status(v)
		}
		q.Where(payment.StatusIn(st...))
	}
	if f.From != nil {
		q.Where(payment.CreatedAtGTE(f.From.UTC()))
	}
	if f.To != nil {
		q.Where(payment.CreatedAtLT(f.To.UTC()))
	}
	return q.Paginate(ctx, p.After, p.First, p.Before, p.Last,
		ent.WithPaymentOrder(&ent.PaymentOrder{Direction: entgql.OrderDirectionDesc, Field: ent.DefaultPaymentOrder.Field}))
}

// Events returns a page of a payment's audit trail, oldest first. The
// caller has already been allowed to see the payment. Errors:
// INVALID_INPUT (page sizes).
func (s *Service) Events(ctx context.Context, paymentID pulid.ID, p Page) (*ent.PaymentEventConnection, error) {
	if err := checkPage(&p); err != nil {
		return nil, err
	}
	return s.client.PaymentEvent.Query().Where(paymentevent.PaymentID(paymentID)).
		Paginate(ctx, p.After, p.First, p.Before, p.Last,
			ent.WithPaymentEventOrder(&ent.PaymentEventOrder{Direction: entgql.OrderDirectionAsc, Field: ent.PaymentEventOrderFieldCreatedAt}))
}

// checkPage applies the one page-size rule of every connection
// (internal/page) to p. Errors: INVALID_INPUT on "first" or "last".
func checkPage(p *Page) error {
	first, last, err := page.Bound(p.First, p.Last)
	if err != nil {
		return err
	}
	p.First, p.Last = first, last
	return nil
}

// ParseState reads a PaymentStatus name. Errors: INVALID_INPUT.
func ParseState(v string) (State, error) {
	for _, s := range States {
		if string(s) == strings.ToUpper(v) {
			return s, nil
		}
	}
	return "", apperr.Invalid("status", "unknown payment status")
}

// Held returns what escrow still holds for p (minor units): the amount
// less refunds while the money is in escrow, zero before authorization and
// after release or refund.
func Held(p *ent.Payment) int64 {
	switch State(p.Status) {
	case Created, Completed, Closed, Refunded:
		return 0
	case Disputed, RefundRequested:
		if State(p.ResumeStatus) == Completed {
			return 0
		}
	}
	return p.Amount - p.RefundedAmount
}

// MaxExtensions is how many times a buyer may extend the auto-confirm
// deadline of one payment.
func (s *Service) MaxExtensions() int { return s.cfg.Limits.MaxExtensions }
