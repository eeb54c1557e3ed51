package wallet

import (
	"context"
	"strings"
	"time"

	"danbao/ent"
	"danbao/ent/bankcard"
	"danbao/ent/schema/pulid"
	"danbao/ent/topup"
	"danbao/ent/withdrawal"
	"danbao/internal/apperr"
	"danbao/internal/bank"
	"danbao/internal/clip"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/ledger"
	"danbao/internal/money"
)

// ErrOutcomeConflict is returned when a gateway reports an outcome that
// contradicts the one already applied.
var ErrOutcomeConflict = apperr.New(apperr.Conflict, "the operation already has a different outcome")

// AlertAmountMismatch is the message of the error-level log record written
// when a bank callback's amount or currency differs from its operation's:
// a stable key that alerting matches on.
const AlertAmountMismatch = "bank callback amount mismatch"

// ApplyOutcome applies a gateway's outcome to the top-up or withdrawal it
// names, once: the PENDING -> final compare-and-set, the postings and the
// events are one transaction. A duplicate of an applied outcome changes
// nothing and is not an error. A callback whose amount or currency is not
// the operation's changes nothing, is logged at error level with message
// AlertAmountMismatch, and is refused. Errors: NOT_FOUND (unknown
// reference), INVALID_INPUT (kind, outcome, missing amount or currency),
// AMOUNT_MISMATCH, CONFLICT (contradicts the applied one).
func (s *Service) ApplyOutcome(ctx context.Context, cb bank.Callback) error {
	ok := cb.Outcome == bank.OutcomeSucceeded
	if !ok && cb.Outcome != bank.OutcomeDeclined {
		return apperr.Invalid("outcome", "unknown outcome")
	}
	id := pulid.ID(cb.Reference)
	var err error
	switch {
	case !id.Valid(): // before any query: PostgreSQL refuses a NUL or invalid UTF-8
		return apperr.New(apperr.NotFound, "no operation of that kind with this reference")
	case cb.Kind == bank.KindCharge && id.Prefix() == pulid.PrefixTopUp:
		err = s.applyTopUp(ctx, id, cb)
	case cb.Kind == bank.KindPayout && id.Prefix() == pulid.PrefixWithdrawal:
		err = s.applyWithdrawal(ctx, id, cb)
	default:
		return apperr.New(apperr.NotFound, "no operation of that kind with this reference")
	}
	if ae, isApp := apperr.As(err); isApp && ae.Code == apperr.AmountMismatch {
		s.log.ErrorContext(ctx, AlertAmountMismatch, "reference", cb.Reference, "callback", cb.ID,
			"expected", ae.Extensions["expected"], "received", ae.Extensions["received"])
	}
	return err
}

func (s *Service) applyTopUp(ctx context.Context, id pulid.ID, cb bank.Callback) error {
	ok := cb.Outcome == bank.OutcomeSucceeded
	status := topup.StatusFAILED
	if ok {
		status = topup.StatusSUCCEEDED
	}
	return dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		t, err := tx.TopUp.Get(ctx, id)
		if err != nil {
			return notFound(err)
		}
		if err := bank.CheckAmount(cb, t.Amount, t.Currency); err != nil {
			return err
		}
		now := s.now().UTC()
		upd := tx.TopUp.Update().Where(topup.ID(id), topup.StatusEQ(topup.StatusPENDING)).
			SetStatus(status).SetCompletedAt(now)
		if !ok {
			upd.SetFailureReason(clip.Bytes(cb.Reason, 200))
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return err
		}
		t, err = tx.TopUp.Get(ctx, id)
		if fresh, err := decided(n, err, func() bool { return t.Status == status }); !fresh {
			return err
		}
		c := money.Currency(t.Currency)
		if ok {
			custody, err := s.ledger.PlatformAccount(ctx, tx, ledger.KindCustody, c)
			if err != nil {
				return err
			}
			avail, err := s.ledger.UserAccount(ctx, tx, t.UserID, c)
			if err != nil {
				return err
			}
			if _, err := s.ledger.Post(ctx, tx, ledger.Entry{Kind: EntryTopUp, Currency: c, RefID: t.ID,
				Legs: []ledger.Leg{ledger.On(custody, -t.Amount), ledger.On(avail, t.Amount)}}); err != nil {
				return err
			}
		}
		if _, err := events.Append(ctx, tx, opEvent("topup."+strings.ToLower(string(status)), t.ID, t.UserID, t.Amount, c, string(status))); err != nil {
			return err
		}
		if ok {
			_, err = events.Append(ctx, tx, balanceEvent(t.UserID, c, t.Amount, t.ID))
		}
		return err
	})
}

func (s *Service) applyWithdrawal(ctx context.Context, id pulid.ID, cb bank.Callback) error {
	ok := cb.Outcome == bank.OutcomeSucceeded
	status := withdrawal.StatusFAILED
	if ok {
		status = withdrawal.StatusSUCCEEDED
	}
	return dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		w, err := tx.Withdrawal.Get(ctx, id)
		if err != nil {
			return notFound(err)
		}
		if err := bank.CheckAmount(cb, w.Amount, w.Currency); err != nil {
			return err
		}
		now := s.now().UTC()
		upd := tx.Withdrawal.Update().Where(withdrawal.ID(id), withdrawal.StatusEQ(withdrawal.StatusPENDING)).
			SetStatus(status).SetCompletedAt(now)
		if !ok {
			upd.SetFailureReason(clip.Bytes(cb.Reason, 200))
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return err
		}
		w, err = tx.Withdrawal.Get(ctx, id)
		if fresh, err := decided(n, err, func() bool { return w.Status == status }); !fresh {
			return err
		}
		c := money.Currency(w.Currency)
		clearing, err := s.ledger.PlatformAccount(ctx, tx, ledger.KindWithdrawalClearing, c)
		if err != nil {
			return err
		}
		entry := ledger.Entry{Currency: c, RefID: w.ID}
		if ok { // the money leaves custody for the user's bank
			custody, err := s.ledger.PlatformAccount(ctx, tx, ledger.KindCustody, c)
			if err != nil {
				return err
			}
			entry.Kind, entry.Legs = EntryWithdrawalPayout, []ledger.Leg{ledger.On(clearing, -w.Amount), ledger.On(custody, w.Amount)}
		} else { // returned to the user
			avail, err := s.ledger.UserAccount(ctx, tx, w.UserID, c)
			if err != nil {
				return err
			}
			entry.Kind, entry.Legs = EntryWithdrawalReturn, []ledger.Leg{ledger.On(clearing, -w.Amount), ledger.On(avail, w.Amount)}
		}
		if _, err := s.ledger.Post(ctx, tx, entry); err != nil {
			return err
		}
		if _, err := events.Append(ctx, tx, opEvent("withdrawal."+strings.ToLower(string(status)), w.ID, w.UserID, w.Amount, c, string(status))); err != nil {
			return err
		}
		if !ok {
			_, err = events.Append(ctx, tx, balanceEvent(w.UserID, c, w.Amount, w.ID))
		}
		return err
	})
}

// decided reads the result of a PENDING -> final compare-and-set that
// changed n rows, given the error of re-loading the operation and whether
// its status is the one being applied. fresh means this call made the
// change and must move the money; otherwise err is nil for a repeat of
// the applied outcome (a duplicate callback), CONFLICT for a different
// one, NOT_FOUND for an unknown operation.
func decided(n int, loadErr error, same func() bool) (fresh bool, err error) {
	switch {
	case ent.IsNotFound(loadErr):
		return false, apperr.New(apperr.NotFound, "no such operation")
	case loadErr != nil:
		return false, loadErr
	case n > 0:
		return true, nil
	case same():
		return false, nil
	}
	return false, ErrOutcomeConflict
}

// SettleSandbox has a test-mode gateway decide a held operation (the
// sandbox's pending card 4000000000000259), as an acquirer's back office
// would: the callback is delivered and applied before it returns the
// settled top-up or withdrawal (one of the two; the other is nil).
// Errors: NOT_FOUND, INVALID_STATE (not pending, not on the pending card,
// or no sandbox).
func (s *Service) SettleSandbox(ctx context.Context, id pulid.ID, succeed bool) (*ent.TopUp, *ent.Withdrawal, error) {
	settler, isSandbox := s.gateway.(bank.Settler)
	if !isSandbox {
		return nil, nil, apperr.New(apperr.InvalidState, "the sandbox gateway is not enabled")
	}
	var (
		kind   string
		cardID pulid.ID
		status string
		req    bank.Request
	)
	switch id.Prefix() {
	case pulid.PrefixTopUp:
		t, err := s.client.TopUp.Get(ctx, id)
		if err != nil {
			return nil, nil, notFound(err)
		}
		kind, cardID, status = bank.KindCharge, t.BankCardID, string(t.Status)
		req = bank.Request{Reference: string(t.ID), Amount: t.Amount, Currency: t.Currency}
	case pulid.PrefixWithdrawal:
		w, err := s.client.Withdrawal.Get(ctx, id)
		if err != nil {
			return nil, nil, notFound(err)
		}
		kind, cardID, status = bank.KindPayout, w.BankCardID, string(w.Status)
		req = bank.Request{Reference: string(w.ID), Amount: w.Amount, Currency: w.Currency}
	default:
		return nil, nil, apperr.New(apperr.NotFound, "no top-up or withdrawal with this ID").WithField("id")
	}
	if status != "PENDING" {
		return nil, nil, apperr.New(apperr.InvalidState, "the operation is %s, not PENDING", status).With("state", status)
	}
	card, err := s.client.BankCard.Get(ctx, cardID)
	if err != nil {
		return nil, nil, err
	}
	req.Token = card.Token
	if err := settler.Settle(ctx, kind, req, succeed); err != nil {
		return nil, nil, err
	}
	// Applied (or, had another decision won the race, that one is shown).
	if kind == bank.KindCharge {
		t, err := s.client.TopUp.Get(ctx, id)
		return t, nil, err
	}
	w, err := s.client.Withdrawal.Get(ctx, id)
	return nil, w, err
}

func notFound(err error) error {
	if ent.IsNotFound(err) {
		return apperr.New(apperr.NotFound, "no top-up or withdrawal with this ID").WithField("id")
	}
	return err
}

// ResendPending asks the gateway again about up to limit top-ups and
// withdrawals that have been PENDING, untouched, since before before: the
// request that started them may never have reached the gateway (a crash
// after commit, a timeout, a full queue). Each operation is claimed by
// moving its updated_at forward with a compare-and-set, so with several
// instances only one re-sends it. The gateway de-duplicates by reference
// and danbao applies an outcome once, so a re-send never moves money
// twice. It returns how many operations it found (re-sent, or taken
// meanwhile by another instance or settled): 0 means none is left from
// before before. A gateway with a bounded queue (bank.Admitter) is
// given at most what it has room for; when it has none, ResendPending
// claims nothing and returns its Busy error (RATE_LIMITED), and the caller
// waits before asking again.
func (s *Service) ResendPending(ctx context.Context, before time.Time, limit int) (int, error) {
	if s.gateway == nil {
		return 0, nil
	}
	if a, ok := s.gateway.(bank.Admitter); ok {
		room := a.Room()
		if room == 0 {
			return 0, a.Busy()
		}
		limit = min(limit, room)
	}
	now := s.now().UTC()
	tops, err := s.client.TopUp.Query().
		Where(topup.StatusEQ(topup.StatusPENDING), topup.UpdatedAtLT(before)).
		Order(ent.Asc(topup.FieldUpdatedAt)).Limit(limit).All(ctx)
	if err != nil {
		return 0, err
	}
	var wds []*ent.Withdrawal
	if len(tops) < limit {
		wds, err = s.client.Withdrawal.Query().
			Where(withdrawal.StatusEQ(withdrawal.StatusPENDING), withdrawal.UpdatedAtLT(before)).
			Order(ent.Asc(withdrawal.FieldUpdatedAt)).Limit(limit - len(tops)).All(ctx)
		if err != nil {
			return 0, err
		}
	}
	cardIDs := make([]pulid.ID, 0, len(tops)+len(wds))
	for _, t := range tops {
		cardIDs = append(cardIDs, t.BankCardID)
	}
	for _, w := range wds {
		cardIDs = append(cardIDs, w.BankCardID)
	}
	cards, err := s.client.BankCard.Query().Where(bankcard.IDIn(cardIDs...)).All(ctx)
	if err != nil {
		return 0, err
	}
	tokens := make(map[pulid.ID]string, len(cards))
	for _, c := range cards {
		tokens[c.ID] = c.Token
	}
	claimed := 0
	for _, t := range tops {
		n, err := s.client.TopUp.Update().
			Where(topup.ID(t.ID), topup.StatusEQ(topup.StatusPENDING), topup.UpdatedAt(t.UpdatedAt)).
			SetUpdatedAt(now).Save(ctx)
		if err != nil || n == 0 {
			continue // another instance has it, or it was settled meanwhile
		}
		claimed++
		if err := s.gateway.Charge(ctx, bank.Request{Reference: string(t.ID), Token: tokens[t.BankCardID], Amount: t.Amount, Currency: t.Currency}); err != nil {
			s.log.WarnContext(ctx, "re-sending a charge failed", "topUp", t.ID, "error", err)
		}
	}
	for _, w := range wds {
		n, err := s.client.Withdrawal.Update().
			Where(withdrawal.ID(w.ID), withdrawal.StatusEQ(withdrawal.StatusPENDING), withdrawal.UpdatedAt(w.UpdatedAt)).
			SetUpdatedAt(now).Save(ctx)
		if err != nil || n == 0 {
			continue
		}
		claimed++
		if err := s.gateway.Payout(ctx, bank.Request{Reference: string(w.ID), Token: tokens[w.BankCardID], Amount: w.Amount, Currency: w.Currency}); err != nil {
			s.log.WarnContext(ctx, "re-sending a payout failed", "withdrawal", w.ID, "error", err)
		}
	}
	if claimed < len(tops)+len(wds) {
		s.log.DebugContext(ctx, "pending operations taken meanwhile by another instance or settled", "count", len(tops)+len(wds)-claimed)
	}
	return len(tops) + len(wds), nil
}
