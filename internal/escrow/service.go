package escrow

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

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
	"danbao/internal/limits"
	"danbao/internal/money"
	"danbao/internal/partner"
	"danbao/internal/passkey"
	"danbao/internal/risk"
	"danbao/internal/trust"
)

// Ledger entry kinds written by this package.
const (
	EntryPayment                = "PAYMENT"                 // buyer's available -> escrow
	EntryPaymentRelease         = "PAYMENT_RELEASE"         // escrow -> seller's available (and fees)
	EntryPaymentRefund          = "PAYMENT_REFUND"          // escrow -> buyer's available
	EntryProtectionCompensation = "PROTECTION_COMPENSATION" // protection fund -> buyer's available
	EntryProtectionFunding      = "PROTECTION_FUNDING"      // custody -> protection fund
)

// Config is the escrow's configuration.
type Config struct {
	Windows Windows
	Limits  Limits
	Fees    FeeRules
	// MaxPayment is the single-payment maximum per currency, minor units;
	// a currency not listed has no maximum beyond the money package's.
	MaxPayment map[money.Currency]int64
}

// Service runs escrowed payments. Every exported method that changes a
// payment is one database transaction (two for AuthorizePayment: the
// passkey challenge is spent first in its own).
type Service struct {
	client   *ent.Client
	ledger   *ledger.Service
	keys     *idempotency.Keys
	passkeys *passkey.Service
	limits   *limits.Service
	trust    *trust.Service // nil: no trust scores (trust.go)
	risk     *risk.Service  // nil: outflows are not assessed (see SetRisk)
	cfg      Config
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Service. now is the clock (time.Now when nil).
func New(client *ent.Client, l *ledger.Service, keys *idempotency.Keys, pk *passkey.Service, lim *limits.Service,
	cfg Config, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{client: client, ledger: l, keys: keys, passkeys: pk, limits: lim, cfg: cfg, now: now, log: log}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Caller is who calls a service method.
type Caller struct {
	UserID   pulid.ID
	Operator bool
}

// CreatePaymentInput is the input of CreatePayment.
type CreatePaymentInput struct {
	// PartnerID is the partner app creating the payment for the payer
	// (empty when the payer creates it): the seller must have connected
	// it, and the payment records it.
	PartnerID        pulid.ID
	PayeeID          pulid.ID
	Amount           string // decimal in major units
	Currency         string
	Description      string
	MerchantOrderRef string
	IdempotencyKey   string
}

// CreatePayment creates a CREATED payment from payer to in.PayeeID and, when
// the payer has a usable passkey, the WebAuthn request options that
// authorize it (nil otherwise: beginPaymentAuthorization then says
// PASSKEY_REQUIRED). Same key and input replay the first payment (replay
// true) with fresh options while it is still CREATED. With in.PartnerID the
// partner creates the payment for payer, the buyer then authorizes it in
// the wallet app (no options are returned), and idempotency keys are the
// partner's. Errors: FORBIDDEN (in.PartnerID not connected by the payee),
// NOT_FOUND (payerId, for a partner),
// INVALID_INPUT (amount, currency, description, merchantOrderRef,
// idempotencyKey; payeeId when paying oneself), LIMIT_EXCEEDED (over the
// single-payment maximum; extensions limit SINGLE_PAYMENT, limitAmount),
// NOT_FOUND (payee), VERIFICATION_REQUIRED (payer or payee unverified),
// ACCOUNT_FROZEN (payer frozen; payee restricted from collecting,
// extensions restriction COLLECTION_RESTRICTED), IDEMPOTENCY_CONFLICT.
func (s *Service) CreatePayment(ctx context.Context, payer pulid.ID, in CreatePaymentInput) (*ent.Payment, json.RawMessage, bool, error) {
	if err := idempotency.ValidateKey(in.IdempotencyKey); err != nil {
		return nil, nil, false, err
	}
	c, err := money.ParseCurrency(in.Currency)
	if err != nil {
		return nil, nil, false, err
	}
	amount, err := money.ParsePositive(in.Amount, c)
	if err != nil {
		return nil, nil, false, err
	}
	if max, ok := s.cfg.MaxPayment[c]; ok && amount > max {
		return nil, nil, false, apperr.New(apperr.LimitExceeded, "a single payment may be at most %s %s", money.FormatMinor(max, c), c).
			WithField("amount").With("limit", "SINGLE_PAYMENT").With("limitAmount", money.FormatMinor(max, c)).With("currency", string(c))
	}
	desc, err := text("description", in.Description, 200)
	if err != nil {
		return nil, nil, false, err
	}
	ref, err := text("merchantOrderRef", in.MerchantOrderRef, 64)
	if err != nil {
		return nil, nil, false, err
	}
	if in.PayeeID == payer {
		return nil, nil, false, apperr.Invalid("payeeId", "you cannot pay yourself")
	}
	if !in.PayeeID.Valid() || in.PayeeID.Prefix() != "usr" {
		return nil, nil, false, noPayee()
	}
	scope := string(payer)
	if in.PartnerID != "" {
		scope = string(in.PartnerID)
	}
	id := pulid.New(pulid.PrefixPayment) // the new payment's, recorded with the key
	req := idempotency.Request{Scope: scope, Key: in.IdempotencyKey, Operation: "createPayment",
		Hash:     idempotency.RequestHash("createPayment", string(payer), string(in.PayeeID), money.FormatMinor(amount, c), string(c), desc, ref),
		ResultID: string(id)}
	// The challenge is issued in the payment's transaction: a create that
	// fails leaves none, and a replay replaces the pending one.
	type created struct {
		p       *ent.Payment
		options json.RawMessage
	}
	withOptions := func(tx *ent.Tx, p *ent.Payment, replay bool) (created, error) {
		if p.Status != payment.StatusCREATED || in.PartnerID != "" {
			return created{p: p}, nil
		}
		begin := s.passkeys.BeginNewPayment
		if replay {
			begin = s.passkeys.BeginPayment
		}
		options, err := begin(ctx, tx, challengeInput(p))
		if apperr.Is(err, apperr.PasskeyRequired) {
			return created{p: p}, nil // nothing written: the transaction goes on
		}
		if err != nil {
			return created{}, err
		}
		return created{p: p, options: options}, nil
	}
	out, replay, err := idempotency.Run(ctx, s.keys, s.client, req,
		func(tx *ent.Tx, id string) (created, error) {
			p, err := tx.Payment.Get(ctx, pulid.ID(id))
			if err != nil {
				return created{}, err
			}
			return withOptions(tx, p, true)
		},
		func(tx *ent.Tx) (created, string, error) {
			if in.PartnerID != "" {
				if err := partnerMayCreate(ctx, tx, in.PartnerID, payer, in.PayeeID); err != nil {
					return created{}, "", err
				}
			}
			if err := checkParties(ctx, tx, payer, in.PayeeID); err != nil {
				return created{}, "", err
			}
			now := s.clock()
			p, err := tx.Payment.Create().SetID(id).
				SetPayerID(payer).SetPayeeID(in.PayeeID).SetAmount(amount).SetCurrency(string(c)).
				SetDescription(desc).SetMerchantOrderRef(ref).
				SetNillablePartnerID(nonEmpty(in.PartnerID)).
				SetAuthorizeBy(now.Add(s.cfg.Windows.Authorization)).
				SetCreatedAt(now).SetUpdatedAt(now).
				Save(dbtx.ExecLater(ctx)) // the row as written: nothing is read back
			if err != nil {
				return created{}, "", err
			}
			if err := s.record(ctx, tx, p, s.clock(), "CREATE", Payer, payer, "", p.Status, 0, "", map[string]any{
				"amount": money.FormatMinor(amount, c), "currency": string(c)}); err != nil {
				return created{}, "", err
			}
			cr, err := withOptions(tx, p, false)
			return cr, string(p.ID), err
		})
	if err != nil {
		return nil, nil, false, err
	}
	return out.p, out.options, replay, nil
}

// partnerMayCreate refuses, inside the transaction, a partner the payee has
// not connected, and a payer who is not a wallet user. Errors: FORBIDDEN,
// NOT_FOUND (payerId).
func partnerMayCreate(ctx context.Context, tx *ent.Tx, partnerID, payer, payee pulid.ID) error {
	if err := partner.CheckConnected(ctx, tx, partnerID, payee); err != nil {
		return err
	}
	ok, err := tx.User.Query().Where(user.ID(payer), user.RoleEQ(user.RoleUSER)).Exist(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.NotFound, "no such payer").WithField("payerId")
	}
	return nil
}

func nonEmpty(id pulid.ID) *pulid.ID {
	if id == "" {
		return nil
	}
	return &id
}

func text(field, v string, maxLen int) (string, error) {
	v = strings.TrimSpace(v)
	if utf8.RuneCountInString(v) > maxLen || !utf8.ValidString(v) {
		return "", apperr.Invalid(field, "at most %d characters", maxLen)
	}
	return v, nil
}

func challengeInput(p *ent.Payment) passkey.PaymentChallengeInput {
	return passkey.PaymentChallengeInput{PaymentID: string(p.ID), Payer: p.PayerID, Payee: p.PayeeID,
		AmountMinor: p.Amount, Currency: p.Currency}
}

// BeginPaymentAuthorization issues a fresh passkey challenge bound to the
// payment (replacing any earlier one). Errors: NOT_FOUND (no such payment,
// or not the caller's), FORBIDDEN (the payee), INVALID_STATE (not
// CREATED), PASSKEY_REQUIRED.
func (s *Service) BeginPaymentAuthorization(ctx context.Context, who Caller, id pulid.ID) (json.RawMessage, error) {
	p, role, err := s.load(ctx, s.client, who, id)
	if err != nil {
		return nil, err
	}
	if role != Payer {
		return nil, forbidden(Authorize)
	}
	if err := s.authorizable(p); err != nil {
		return nil, err
	}
	return s.passkeys.BeginPayment(ctx, nil, challengeInput(p))
}

// authorizable refuses an authorization of p that the rules would refuse
// whatever the assertion (not CREATED, or authorizeBy has passed), before
// the buyer is asked for one or it is spent.
func (s *Service) authorizable(p *ent.Payment) error {
	_, err := Transition(snapshot(p, s.clock()), Request{Event: Authorize, Actor: Payer}, s.cfg.Limits)
	return err
}

// AuthorizePaymentInput is the input of AuthorizePayment.
type AuthorizePaymentInput struct {
	PaymentID      pulid.ID
	Credential     json.RawMessage // PublicKeyCredential.toJSON()
	IdempotencyKey string
}

// AuthorizePayment verifies the payer's passkey assertion for the payment
// and moves the amount from the payer's available balance into escrow
// (CREATED -> PAID), storing the evidence with the journal transaction and
// the payment. The assertion is verified outside any transaction and its
// challenge spent in the money transaction, after the key's claim; when
// that transaction fails, the challenge is spent afterwards all the same
// (authorizationFailed), so it cannot be replayed, and the failure is
// written to the payment's audit trail. Same key: replay. The amount
// counts against the level's limit and the daily limit
// (limits.Record) in the money transaction, and risk assesses it there
// (see authorizeTx): a held payment goes CREATED -> HELD with its money in
// escrow. Without a credential the payment goes through only within the
// password-free allowance and when risk allows. Errors: INVALID_INPUT,
// NOT_FOUND, FORBIDDEN, INVALID_STATE, PASSKEY_INVALID, CHALLENGE_EXPIRED,
// PASSKEY_REVOKED, PASSKEY_CLONE_SUSPECTED, PASSKEY_REQUIRED (no
// credential, outside the allowance or stepped up by risk; extensions
// limit PASSWORD_FREE_ALLOWANCE, reason, reasons), INSUFFICIENT_FUNDS,
// LIMIT_EXCEEDED (level or DAILY_AUTHORIZED_PAYMENTS),
// VERIFICATION_REQUIRED, ACCOUNT_FROZEN, IDEMPOTENCY_CONFLICT.
func (s *Service) AuthorizePayment(ctx context.Context, who Caller, in AuthorizePaymentInput) (*ent.Payment, bool, error) {
	if err := idempotency.ValidateKey(in.IdempotencyKey); err != nil {
		return nil, false, err
	}
	req := idempotency.Request{Scope: string(who.UserID), Key: in.IdempotencyKey, Operation: "authorizePayment",
		Hash: idempotency.RequestHash("authorizePayment", string(in.PaymentID)), ResultID: string(in.PaymentID)}
	// The key is held from before the payment is read and the challenge
	// spent: the same request sent again meanwhile (a client retrying)
	// gets IN_PROGRESS, or once it is done reads the payment paid and
	// replays, not the refusal of an assertion its twin has just spent.
	release, err := s.keys.Claim(req)
	if err != nil {
		return nil, false, err
	}
	defer release()
	req.Claimed = true
	p, role, err := s.load(ctx, s.client, who, in.PaymentID)
	if err != nil {
		return nil, false, err
	}
	if role != Payer {
		return nil, false, forbidden(Authorize)
	}
	passwordFree := NoCredential(in.Credential)
	var (
		v       *passkey.Verified
		refused error
		ran     bool // the money transaction's function ran: this request held the key
	)
	if p.Status == payment.StatusCREATED && !passwordFree {
		// Verified outside any transaction; spent in the money's.
		if err := s.authorizable(p); err != nil {
			refused = err // past its deadline: a twin may have authorized it in time
		} else if v, err = s.passkeys.VerifyPayment(ctx, challengeInput(p), in.Credential); err != nil {
			// Spent already, or expired: perhaps this very request was
			// sent before to another instance (a client retrying a slow
			// authorization) and went through. The challenge is spent
			// with the money by the transaction that records the key, so
			// a twin that succeeded has committed both: Run below replays
			// its outcome, or answers IN_PROGRESS while a twin holds the
			// key. The refusal stands only when no twin recorded it.
			if !passkey.ChallengeUnknown(err) && !apperr.Is(err, apperr.ChallengeExpired) {
				return nil, false, err
			}
			refused = err
		}
	}
	out, replay, err := idempotency.Run(ctx, s.keys, s.client, req,
		func(tx *ent.Tx, id string) (*ent.Payment, error) { return tx.Payment.Get(ctx, pulid.ID(id)) },
		func(tx *ent.Tx) (*ent.Payment, string, error) {
			ran = true
			if refused != nil {
				return nil, "", refused
			}
			// The row read above, not read again: the compare-and-set on
			// its status (apply) refuses it if it has changed since.
			if (v == nil && !passwordFree) || p.Status != payment.StatusCREATED {
				return nil, "", InvalidState(State(p.Status), Authorize)
			}
			var ev *passkey.Evidence
			if v != nil {
				// First: the session's and the passkey's row locks come
				// before the limits' (docs/architecture.md, Transactions).
				if err := s.passkeys.SpendPayment(ctx, tx, v); err != nil {
					return nil, "", err
				}
				ev = v.Evidence
			}
			out, err := s.authorizeTx(ctx, tx, p, who.UserID, ev)
			if err != nil {
				return nil, "", err
			}
			return out, string(out.ID), nil
		})
	if err != nil && v != nil && idempotency.Tried(err, ran) {
		s.authorizationFailed(ctx, p, who.UserID, v, err)
	}
	return out, replay, err
}

// authorizationFailed makes an authorization's failure stick after its
// transaction was rolled back: the challenge VerifyPayment verified is
// spent for good, so that the assertion can never be presented again. A
// refusal of the assertion itself (SpendPayment's: spent meanwhile, a
// revocation, a clone) is recorded by passkey.RecordFailure; any other
// failure also goes to the payment's audit trail (AUTHORIZATION_FAILED),
// in the transaction that discards the challenge. Both outlive a
// cancelled request.
func (s *Service) authorizationFailed(ctx context.Context, p *ent.Payment, actor pulid.ID, v *passkey.Verified, cause error) {
	ctx = context.WithoutCancel(ctx)
	if passkey.Refused(cause) {
		if err := s.passkeys.RecordFailure(ctx, cause); err != nil {
			s.log.ErrorContext(ctx, "escrow: recording a refused authorization", "payment", p.ID, "error", err)
		}
		return
	}
	code := apperr.CodeOf(cause)
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		pending, err := s.passkeys.Discard(ctx, tx, v)
		if err != nil {
			return err
		}
		cur, err := tx.Payment.Get(ctx, p.ID)
		if err != nil {
			return err
		}
		if !pending && cur.Status != payment.StatusCREATED {
			// Spent by another transaction that moved the payment on: a
			// twin (the same request, retried) that authorized it, or
			// this very one, committed though it reported an error
			// (dbtx.ErrCommittedUnread). Not a failure to record.
			return nil
		}
		return s.record(ctx, tx, cur, s.clock(), "AUTHORIZATION_FAILED", Payer, actor, cur.Status, cur.Status, 0, "",
			map[string]any{"code": string(code)})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "escrow: recording a failed authorization", "payment", p.ID, "error", err)
	}
}

func evidenceMap(ev *passkey.Evidence) (map[string]any, error) { return ev.Map() }

// MarkShippedInput is the input of MarkShipped.
type MarkShippedInput struct {
	PaymentID      pulid.ID
	Carrier        string
	TrackingNumber string
}

// MarkShipped records the seller's shipment (PAID -> SHIPPED) and starts
// the auto-confirm countdown. Errors: INVALID_INPUT (carrier,
// trackingNumber: 1 to 64 characters), NOT_FOUND, FORBIDDEN (not the
// seller), INVALID_STATE.
func (s *Service) MarkShipped(ctx context.Context, who Caller, in MarkShippedInput) (*ent.Payment, error) {
	carrier, err := text("carrier", in.Carrier, 64)
	if err == nil && carrier == "" {
		err = apperr.Invalid("carrier", "name the carrier")
	}
	if err != nil {
		return nil, err
	}
	tracking, err := text("trackingNumber", in.TrackingNumber, 64)
	if err == nil && tracking == "" {
		err = apperr.Invalid("trackingNumber", "give the tracking number")
	}
	if err != nil {
		return nil, err
	}
	return s.act(ctx, who, in.PaymentID, step{req: Request{Event: Ship}, detail: map[string]any{"carrier": carrier, "trackingNumber": tracking},
		set: func(u *ent.PaymentUpdate, now time.Time) {
			u.SetCarrier(carrier).SetTrackingNumber(tracking).SetShippedAt(now)
		}})
}

// ConfirmReceipt is the buyer's confirmation (SHIPPED -> COMPLETED): what
// escrow holds is released to the seller less the fee. Errors: NOT_FOUND,
// FORBIDDEN (not the buyer), INVALID_STATE.
func (s *Service) ConfirmReceipt(ctx context.Context, who Caller, id pulid.ID) (*ent.Payment, error) {
	return s.act(ctx, who, id, step{req: Request{Event: Confirm}})
}

// ExtendConfirmDeadline moves the auto-confirm deadline later by the
// configured extension, a bounded number of times. Errors: NOT_FOUND,
// FORBIDDEN (not the buyer), INVALID_STATE, LIMIT_EXCEEDED (no extension
// left; extensions limit CONFIRM_EXTENSIONS).
func (s *Service) ExtendConfirmDeadline(ctx context.Context, who Caller, id pulid.ID) (*ent.Payment, error) {
	return s.act(ctx, who, id, step{req: Request{Event: Extend}})
}

// CancelPayment is the buyer's cancellation: CREATED -> CLOSED, or PAID
// (not shipped) -> REFUNDED with everything escrow holds returned.
// Errors: NOT_FOUND, FORBIDDEN, INVALID_STATE.
func (s *Service) CancelPayment(ctx context.Context, who Caller, id pulid.ID) (*ent.Payment, error) {
	return s.act(ctx, who, id, step{req: Request{Event: Cancel}})
}

// RequestRefund asks the seller for amount back (all or part of what is
// left), pausing the auto-confirm countdown. Errors: INVALID_INPUT
// (amount: not positive, malformed, or more than what is left; reason: 1
// to 500 characters), NOT_FOUND, FORBIDDEN, INVALID_STATE.
func (s *Service) RequestRefund(ctx context.Context, who Caller, id pulid.ID, amount, reason string) (*ent.Payment, error) {
	why, err := text("reason", reason, 500)
	if err == nil && why == "" {
		err = apperr.Invalid("reason", "say why")
	}
	if err != nil {
		return nil, err
	}
	return s.actAmount(ctx, who, id, amount, "amount", func(minor int64) step {
		return step{req: Request{Event: RequestRefund, Amount: minor}, amount: minor, detail: map[string]any{"reason": why},
			set: func(u *ent.PaymentUpdate, _ time.Time) { u.SetRefundRequestAmount(minor).SetRefundReason(why) }}
	})
}

// RespondToRefund is the seller's answer to the open refund request:
// accept returns the amount asked for (REFUNDED when nothing is left,
// otherwise back to PAID or SHIPPED), refusal returns the payment to where
// it was and resumes the countdown. Errors: INVALID_INPUT (note over 500
// characters), NOT_FOUND, FORBIDDEN (not the seller), INVALID_STATE.
func (s *Service) RespondToRefund(ctx context.Context, who Caller, id pulid.ID, accept bool, note string) (*ent.Payment, error) {
	n, err := text("note", note, 500)
	if err != nil {
		return nil, err
	}
	ev := RefuseRefund
	if accept {
		ev = AcceptRefund
	}
	return s.act(ctx, who, id, step{req: Request{Event: ev}, note: n})
}

// OpenDispute asks an operator to decide: from PAID, SHIPPED or
// REFUND_REQUESTED, or a fraud claim on a COMPLETED payment within the
// protection window. Errors: INVALID_INPUT (reason: 1 to 500 characters),
// NOT_FOUND, FORBIDDEN (not the buyer), INVALID_STATE (also after the
// protection window).
func (s *Service) OpenDispute(ctx context.Context, who Caller, id pulid.ID, reason string) (*ent.Payment, error) {
	why, err := text("reason", reason, 500)
	if err == nil && why == "" {
		err = apperr.Invalid("reason", "say why")
	}
	if err != nil {
		return nil, err
	}
	return s.act(ctx, who, id, step{req: Request{Event: OpenDispute}, detail: map[string]any{"reason": why},
		set: func(u *ent.PaymentUpdate, _ time.Time) { u.SetDisputeReason(why) }})
}

// ResolveDispute is the operator's decision: refundAmount goes back to the
// buyer and the rest is released to the seller (less the fee); on a fraud
// claim after completion, refundAmount is paid to the buyer from the
// protection fund. Errors: INVALID_INPUT (refundAmount malformed, negative
// or over what is left; note), NOT_FOUND, FORBIDDEN (not an operator),
// INVALID_STATE, INSUFFICIENT_FUNDS (the protection fund holds less than
// the compensation; extensions account PROTECTION_FUND, available).
func (s *Service) ResolveDispute(ctx context.Context, who Caller, id pulid.ID, refundAmount, note string) (*ent.Payment, error) {
	n, err := text("note", note, 500)
	if err != nil {
		return nil, err
	}
	if !who.Operator {
		return nil, forbidden(ResolveDispute)
	}
	return s.actAmount(ctx, who, id, refundAmount, "refundAmount", func(minor int64) step {
		return step{req: Request{Event: ResolveDispute, Amount: minor}, amount: minor, note: n}
	})
}

// actAmount parses an amount in the payment's currency, then acts.
func (s *Service) actAmount(ctx context.Context, who Caller, id pulid.ID, amount, field string, mk func(int64) step) (*ent.Payment, error) {
	p, _, err := s.load(ctx, s.client, who, id)
	if err != nil {
		return nil, err
	}
	minor, err := money.ParseAmount(amount, money.Currency(p.Currency))
	if err != nil {
		if ae, ok := apperr.As(err); ok {
			return nil, ae.WithField(field)
		}
		return nil, err
	}
	return s.act(ctx, who, id, mk(minor))
}

// step is one transition to apply, with what it records.
type step struct {
	req      Request
	actor    pulid.ID
	amount   int64
	note     string
	detail   map[string]any
	evidence map[string]any
	set      func(u *ent.PaymentUpdate, now time.Time)
}

// act applies st to the payment for who, in one transaction.
func (s *Service) act(ctx context.Context, who Caller, id pulid.ID, st step) (*ent.Payment, error) {
	var out *ent.Payment
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		p, role, err := s.load(ctx, tx.Client(), who, id)
		if err != nil {
			return err
		}
		st.req.Actor, st.actor = role, who.UserID
		out, err = s.apply(ctx, tx, p, st)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// load returns the payment and the caller's role in it: NOT_FOUND for a
// stranger (IDs of other people's payments reveal nothing), Operator for an
// operator who is neither party.
func (s *Service) load(ctx context.Context, c *ent.Client, who Caller, id pulid.ID) (*ent.Payment, Actor, error) {
	notFound := apperr.New(apperr.NotFound, "no such payment").WithField("paymentId")
	if !id.Valid() || id.Prefix() != pulid.PrefixPayment {
		return nil, "", notFound
	}
	p, err := c.Payment.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, "", notFound
	}
	if err != nil {
		return nil, "", err
	}
	switch {
	case p.PayerID == who.UserID:
		return p, Payer, nil
	case p.PayeeID == who.UserID:
		return p, Payee, nil
	case who.Operator:
		return p, Operator, nil
	}
	return nil, "", notFound
}

// snapshot is what Transition needs to know of p at now.
func snapshot(p *ent.Payment, now time.Time) Snapshot {
	s := Snapshot{State: State(p.Status), Resume: State(p.ResumeStatus), Amount: p.Amount, Refunded: p.RefundedAmount,
		Compensated: p.CompensatedAmount, Extensions: p.ExtensionCount, FraudClaim: p.FraudClaim,
		InProtection: p.ProtectionUntil != nil && now.Before(*p.ProtectionUntil)}
	if p.RefundRequestAmount != nil {
		s.RefundRequest = *p.RefundRequestAmount
	}
	for _, k := range deadlineKinds {
		if k.status == p.Status && k.passed(p, now) {
			s.Overdue = k.name
		}
	}
	return s
}

func deadlines(p *ent.Payment) Deadlines {
	d := Deadlines{AuthorizeBy: p.AuthorizeBy, ShipBy: p.ShipBy, AutoConfirmAt: p.AutoConfirmAt,
		RefundAnswerBy: p.RefundAnswerBy, ProtectionUntil: p.ProtectionUntil}
	if p.AutoConfirmRemaining != nil {
		left := time.Duration(*p.AutoConfirmRemaining) * time.Microsecond
		d.AutoConfirmLeft = &left
	}
	return d
}

// apply runs one transition on p inside tx: the rules, the compare-and-set
// on the status (and the counters a same-status transition changes), the
// parties' trust scores (rescore), the postings, the audit row and the
// events. Errors: those of Transition;
// INVALID_STATE when the payment moved meanwhile (naming its state now);
// INSUFFICIENT_FUNDS (authorization).
func (s *Service) apply(ctx context.Context, tx *ent.Tx, p *ent.Payment, st step) (*ent.Payment, error) {
	now := s.clock()
	out, err := Transition(snapshot(p, now), st.req, s.cfg.Limits)
	if err != nil {
		return nil, err
	}
	d := Schedule(deadlines(p), State(p.Status), out, now, s.cfg.Windows)
	u := tx.Payment.Update().Where(payment.ID(p.ID), payment.StatusEQ(p.Status),
		payment.ExtensionCount(p.ExtensionCount), payment.RefundedAmount(p.RefundedAmount),
		payment.CompensatedAmount(p.CompensatedAmount)).
		SetStatus(payment.Status(out.To)).SetResumeStatus(string(out.Resume)).
		SetExtensionCount(out.Extensions).SetFraudClaim(out.FraudClaim).
		SetRefundedAmount(p.RefundedAmount + out.Refund).
		SetCompensatedAmount(p.CompensatedAmount + out.Compensation).
		SetUpdatedAt(now)
	setTime(d.AuthorizeBy, u.SetAuthorizeBy, u.ClearAuthorizeBy)
	setTime(d.ShipBy, u.SetShipBy, u.ClearShipBy)
	setTime(d.AutoConfirmAt, u.SetAutoConfirmAt, u.ClearAutoConfirmAt)
	setTime(d.RefundAnswerBy, u.SetRefundAnswerBy, u.ClearRefundAnswerBy)
	setTime(d.ProtectionUntil, u.SetProtectionUntil, u.ClearProtectionUntil)
	if d.AutoConfirmLeft != nil {
		u.SetAutoConfirmRemaining(d.AutoConfirmLeft.Microseconds())
	} else {
		u.ClearAutoConfirmRemaining()
	}
	if out.To != RefundRequested {
		u.ClearRefundRequestAmount()
	}
	switch out.To {
	case Paid, OnHold:
		if p.Status == payment.StatusCREATED {
			u.SetPaidAt(now).SetAuthorizationEvidence(st.evidence)
		}
	case Completed:
		if p.CompletedAt == nil {
			u.SetCompletedAt(now)
		}
	case Closed, Refunded:
		u.SetClosedAt(now)
	}
	if st.set != nil {
		st.set(u, now)
	}
	// The journal transactions stored on the payment get their IDs now, so
	// that this one update records them (post hands them to the ledger).
	ltxIDs := map[string]pulid.ID{}
	for _, m := range out.Moves {
		switch kind := entryKind(m); kind {
		case EntryPayment, EntryPaymentRelease:
			if ltxIDs[kind] == "" {
				ltxIDs[kind] = pulid.New(pulid.PrefixLedgerTransaction)
			}
		}
	}
	if id := ltxIDs[EntryPayment]; id != "" {
		u.SetAuthorizationTransactionID(id)
	}
	if id := ltxIDs[EntryPaymentRelease]; id != "" {
		u.SetReleaseTransactionID(id)
	}
	n, err := u.Save(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		cur, err := tx.Payment.Get(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if cur.Status == p.Status {
			return nil, apperr.New(apperr.Conflict, "the payment changed meanwhile; try again").With("status", string(cur.Status))
		}
		return nil, InvalidState(State(cur.Status), st.req.Event)
	}
	var vol *volume
	if out.Release > 0 {
		vol = newVolume(p, out.Release, now)
	}
	if err := s.rescore(ctx, tx, p, st.req.Event, out, now, vol); err != nil {
		return nil, err
	}
	if out.Compensation > 0 {
		if err := s.requireFund(ctx, tx, money.Currency(p.Currency), out.Compensation); err != nil {
			return nil, err
		}
	}
	var fee int64
	if vol != nil {
		fee = s.fee(p, vol)
	}
	ltxs, err := s.post(ctx, tx, p, WithFee(out.Moves, fee), st, ltxIDs)
	if err != nil {
		return nil, err
	}
	if fee > 0 {
		// A bulk update: UpdateOne would read the row back.
		fu := tx.Payment.Update().Where(payment.ID(p.ID)).SetFee(fee).SetUpdatedAt(now)
		if err := fu.Exec(ctx); err != nil {
			return nil, err
		}
		u.SetFee(fee) // for the row as it is now (below)
	}
	// The row as the update left it, without reading it back (the
	// compare-and-set matched it, so p plus what u set is what it holds).
	updated, err := applied(p, u.Mutation())
	if err != nil {
		s.log.ErrorContext(ctx, "escrow: the payment update cannot be mirrored; reading the row back", "payment", p.ID, "error", err)
		if updated, err = tx.Payment.Get(ctx, p.ID); err != nil {
			return nil, err
		}
	}
	var ltxID pulid.ID
	for _, kind := range []string{EntryProtectionCompensation, EntryPaymentRefund, EntryPayment, EntryPaymentRelease} {
		if id := ltxs[kind]; id != "" {
			ltxID = id // the release when there is one
		}
	}
	detail := map[string]any{}
	for k, v := range st.detail {
		detail[k] = v
	}
	if st.note != "" {
		detail["note"] = st.note
	}
	if st.evidence != nil {
		detail["evidence"] = st.evidence
	}
	if who := loser(p, st.req.Event, out); who != "" {
		detail[trust.LostByKey] = string(who)
	}
	if fee > 0 {
		detail["fee"] = money.FormatMinor(fee, money.Currency(p.Currency))
	}
	amount := st.amount
	if amount == 0 {
		amount = out.Refund + out.Release + out.Compensation
		if st.req.Event == Authorize || st.req.Event == Hold {
			amount = p.Amount
		}
	}
	return updated, s.record(ctx, tx, updated, now, string(st.req.Event), st.req.Actor, st.actor, p.Status, updated.Status, amount, ltxID, detail)
}

func setTime(t *time.Time, set func(time.Time) *ent.PaymentUpdate, clear func() *ent.PaymentUpdate) {
	if t != nil {
		set(*t)
	} else {
		clear()
	}
}

// post writes moves as journal transactions, one per kind of movement,
// and the balance events of the users whose money moved. It returns the
// transaction IDs by entry kind: those of txIDs where given.
func (s *Service) post(ctx context.Context, tx *ent.Tx, p *ent.Payment, moves []Move, st step, txIDs map[string]pulid.ID) (map[string]pulid.ID, error) {
	out := map[string]pulid.ID{}
	if len(moves) == 0 {
		return out, nil
	}
	c := money.Currency(p.Currency)
	groups := map[string][]Move{}
	var kinds []string
	for _, m := range moves {
		k := entryKind(m)
		if _, ok := groups[k]; !ok {
			kinds = append(kinds, k)
		}
		groups[k] = append(groups[k], m)
	}
	deltas := map[pulid.ID]int64{}
	legsOf := map[string][]ledger.Leg{}
	var ids []pulid.ID
	for _, kind := range kinds {
		for party, amount := range Net(groups[kind]) {
			if amount == 0 {
				continue
			}
			a, err := s.account(ctx, tx, p, party)
			if err != nil {
				return nil, err
			}
			legsOf[kind] = append(legsOf[kind], ledger.On(a, amount))
			if !ledger.Deferrable(string(a.Kind)) {
				ids = append(ids, a.ID) // platform accounts: at the flush
			}
			if a.OwnerID != "" {
				deltas[a.OwnerID] += amount
			}
		}
	}
	// Several Posts in one transaction: every user account is locked, in
	// the ledger's order, before the first Post (the platform's accounts
	// and the ledger counter are taken at the flush before the commit).
	if len(kinds) > 1 {
		if err := s.ledger.Lock(ctx, tx, ids...); err != nil {
			return nil, err
		}
	}
	for _, kind := range kinds {
		legs := legsOf[kind]
		var evidence map[string]any
		if kind == EntryPayment {
			evidence = st.evidence
		}
		posted, err := s.ledger.Post(ctx, tx, ledger.Entry{ID: txIDs[kind], Kind: kind, Currency: c, RefID: p.ID, Evidence: evidence, Legs: legs})
		if err != nil {
			return nil, err
		}
		out[kind] = posted.Transaction.ID
	}
	for _, uid := range []pulid.ID{p.PayerID, p.PayeeID} {
		if d := deltas[uid]; d != 0 {
			if _, err := events.Append(ctx, tx, events.Event{Type: "balance.changed", SubjectID: uid, UserID: uid, Payload: map[string]any{
				"currency": string(c), "delta": money.FormatMinor(d, c), "cause": string(p.ID)}}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func entryKind(m Move) string {
	switch {
	case m.From == PayerAvailable:
		return EntryPayment
	case m.From == ProtectionFund:
		return EntryProtectionCompensation
	case m.To == PayerAvailable:
		return EntryPaymentRefund
	}
	return EntryPaymentRelease
}

func (s *Service) account(ctx context.Context, tx *ent.Tx, p *ent.Payment, party Party) (*ent.Account, error) {
	c := money.Currency(p.Currency)
	switch party {
	case PayerAvailable:
		return s.ledger.UserAccount(ctx, tx, p.PayerID, c)
	case PayeeAvailable:
		return s.ledger.UserAccount(ctx, tx, p.PayeeID, c)
	case EscrowAccount:
		return s.ledger.PlatformAccount(ctx, tx, ledger.KindEscrow, c)
	case FeesAccount:
		return s.ledger.PlatformAccount(ctx, tx, ledger.KindFees, c)
	}
	return s.ledger.PlatformAccount(ctx, tx, ledger.KindProtectionFund, c)
}

// eventTypes name the outbox events of each audit event.
var eventTypes = map[string]string{
	"CREATE": "payment.created", string(Authorize): "payment.paid", string(Cancel): "payment.cancelled",
	string(AuthorizationExpired): "payment.closed", string(Ship): "payment.shipped", string(ShipExpired): "payment.refunded",
	string(Confirm): "payment.completed", string(AutoConfirm): "payment.completed", string(Extend): "payment.extended",
	string(RequestRefund): "payment.refund_requested", string(AcceptRefund): "payment.refund_accepted",
	string(RefuseRefund): "payment.refund_refused", string(RefundAnswerExpired): "payment.refund_accepted",
	string(OpenDispute): "payment.disputed", string(ResolveDispute): "payment.resolved",
	"AUTHORIZATION_FAILED": "payment.authorization_failed",
	string(Hold):           "payment.held", string(ApproveHold): "payment.hold_approved", string(RejectHold): "payment.hold_rejected",
}

// record writes the audit row (at: its time) and one event row per party, payer first:
// the two rows are consecutive in seq, the payer's carries the payment's
// partner (so a partner sees each transition once) and both carry the audit
// row's id (auditId), which maps the audit row to its outbox rows (see
// EventSeq).
func (s *Service) record(ctx context.Context, tx *ent.Tx, p *ent.Payment, at time.Time, event string, role Actor, actor pulid.ID,
	from, to payment.Status, amount int64, ltx pulid.ID, detail map[string]any) error {
	c := tx.PaymentEvent.Create().SetPaymentID(p.ID).SetActorRole(paymentevent.ActorRole(role)).
		SetEvent(event).SetFromStatus(string(from)).SetToStatus(string(to)).SetCreatedAt(at)
	if actor != "" {
		c.SetActorID(actor)
	}
	if amount != 0 {
		c.SetAmount(amount)
	}
	if ltx != "" {
		c.SetLedgerTransactionID(ltx)
	}
	if len(detail) > 0 {
		c.SetDetail(detail)
	}
	// Nothing reads the insert's result: on PostgreSQL it goes with the
	// transaction's next round trip (dbtx.ExecLater).
	audit, err := c.Save(dbtx.ExecLater(ctx))
	if err != nil {
		return err
	}
	cur := money.Currency(p.Currency)
	payload := map[string]any{"id": string(p.ID), "event": event, "from": string(from), "status": string(to),
		"amount": money.FormatMinor(p.Amount, cur), "currency": p.Currency,
		"payerId": string(p.PayerID), "payeeId": string(p.PayeeID), AuditKey: string(audit.ID)}
	for _, uid := range []pulid.ID{p.PayerID, p.PayeeID} {
		e := events.Event{Type: eventTypes[event], SubjectID: p.ID, UserID: uid, Payload: payload}
		if uid == p.PayerID && p.PartnerID != nil {
			e.PartnerID = *p.PartnerID
		}
		if _, err := events.Append(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// CheckNotFrozen refuses, inside the caller's transaction, a user an
// operator has frozen (no paying, no withdrawing). Errors: ACCOUNT_FROZEN
// (extensions restriction FROZEN, reason).
func CheckNotFrozen(ctx context.Context, tx *ent.Tx, userID pulid.ID) error {
	c, err := controlOf(ctx, tx, userID)
	if err != nil || c == nil || !c.Frozen {
		return err
	}
	return frozen(c.FrozenReason)
}

func frozen(reason string) error {
	return apperr.New(apperr.AccountFrozen, "this account is frozen: it can neither pay nor withdraw").
		With("restriction", "FROZEN").With("reason", reason)
}

// checkCollect refuses a payee an operator has restricted from collecting.
func checkCollect(ctx context.Context, tx *ent.Tx, userID pulid.ID) error {
	c, err := controlOf(ctx, tx, userID)
	if err != nil || c == nil || !c.CollectionRestricted {
		return err
	}
	return restricted()
}

func restricted() error {
	return apperr.New(apperr.AccountFrozen, "the payee may not receive payments at the moment").
		WithField("payeeId").With("restriction", "COLLECTION_RESTRICTED")
}

// controlOf returns what operators switched off on userID (nil: nothing).
func controlOf(ctx context.Context, tx *ent.Tx, userID pulid.ID) (*ent.AccountControl, error) {
	c, err := tx.AccountControl.Query().Where(accountcontrol.UserID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return c, err
}
