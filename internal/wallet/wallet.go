package wallet

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"danbao/ent"
	"danbao/ent/bankcard"
	"danbao/ent/predicate"
	"danbao/ent/schema/pulid"
	"danbao/ent/withdrawal"
	"danbao/internal/apperr"
	"danbao/internal/bank"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/idempotency"
	"danbao/internal/kyc"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/passkey"
	"danbao/internal/risk"
	"danbao/internal/vault"
)

// Ledger entry kinds written by this package.
const (
	EntryTopUp            = "TOPUP"
	EntryWithdrawal       = "WITHDRAWAL"
	EntryWithdrawalPayout = "WITHDRAWAL_PAYOUT"
	EntryWithdrawalReturn = "WITHDRAWAL_RETURN"
)

// Identity is what the wallet asks of real-name verification, inside its
// own transactions.
type Identity interface {
	// RequireVerified refuses users below level I (VERIFICATION_REQUIRED).
	RequireVerified(ctx context.Context, tx *ent.Tx, userID pulid.ID) error
	// CheckCardHolder refuses a card not in the verified legal name.
	CheckCardHolder(ctx context.Context, tx *ent.Tx, userID pulid.ID, holderName string) error
	// CheckOutflow refuses, and otherwise counts, money leaving the user's
	// balance: a frozen account (ACCOUNT_FROZEN), the level's limits and
	// the daily limit (VERIFICATION_REQUIRED, LIMIT_EXCEEDED; a currency
	// with no limit configured is refused).
	CheckOutflow(ctx context.Context, tx *ent.Tx, userID pulid.ID, amount int64, c money.Currency) error
	// CheckNotFrozen refuses a frozen account (ACCOUNT_FROZEN) without
	// counting anything: an approval of a held withdrawal.
	CheckNotFrozen(ctx context.Context, tx *ent.Tx, userID pulid.ID) error
	// RecordPasswordFree refuses, and otherwise counts, money leaving
	// without a passkey: outside the password-free allowance, or stepped
	// up by risk (stepUp: its reasons), PASSKEY_REQUIRED.
	RecordPasswordFree(ctx context.Context, tx *ent.Tx, userID pulid.ID, amount int64, c money.Currency, at time.Time, stepUp []string) error
}

// Service is the wallet.
type Service struct {
	client   *ent.Client
	ledger   *ledger.Service
	keys     *idempotency.Keys
	identity Identity
	gateway  bank.Gateway     // nil: no gateway configured
	vault    *vault.Keyring   // seals card holder names
	passkeys *passkey.Service // nil: withdrawals with a credential are refused (see SetAuthorization)
	risk     *risk.Service    // nil: withdrawals are not assessed
	log      *slog.Logger
	now      func() time.Time
	// maxEntries is the most entries Statement returns.
	maxEntries int
}

// Option configures a Service.
type Option func(*Service)

// WithMaxStatementEntries makes Statement (the JSON form) return at most
// n entries (MaxStatementEntries when not given; n < 1 is ignored).
func WithMaxStatementEntries(n int) Option {
	return func(s *Service) {
		if n >= 1 {
			s.maxEntries = n
		}
	}
}

// New returns a wallet Service. names is the identity keyring that seals
// card holder names (the one that seals ID numbers).
func New(client *ent.Client, l *ledger.Service, keys *idempotency.Keys, id Identity, gw bank.Gateway, names *vault.Keyring, log *slog.Logger, opts ...Option) *Service {
	s := &Service{client: client, ledger: l, keys: keys, identity: id, gateway: gw, vault: names, log: log, now: time.Now,
		maxEntries: MaxStatementEntries}
	for _, o := range opts {
		o(s)
	}
	return s
}

// LinkBankCardInput is the input of LinkBankCard.
type LinkBankCardInput struct {
	CardNumber string
	HolderName string
}

// LinkBankCard tokenizes a card with the gateway and stores the token, the
// last four digits and the holder's name (sealed, and masked for display).
// The holder must be the user's verified legal name. The gateway is asked
// before the transaction begins, so a retried transaction never calls it
// twice. Errors: INVALID_INPUT (card number, holder name),
// VERIFICATION_REQUIRED, INVALID_STATE (no gateway configured).
func (s *Service) LinkBankCard(ctx context.Context, userID pulid.ID, in LinkBankCardInput) (*ent.BankCard, error) {
	number, err := bank.ValidateCardNumber(in.CardNumber)
	if err != nil {
		return nil, err
	}
	holder := strings.Join(strings.Fields(in.HolderName), " ")
	if holder == "" || utf8.RuneCountInString(holder) > 100 {
		return nil, apperr.Invalid("holderName", "holder name must have 1 to 100 characters")
	}
	if s.gateway == nil {
		return nil, noGateway()
	}
	token, err := s.gateway.Tokenize(ctx, number)
	if err != nil {
		return nil, err
	}
	id := pulid.New(pulid.PrefixBankCard)
	sealed, version, err := s.vault.Encrypt([]byte(holder), holderAAD(userID, id))
	if err != nil {
		return nil, err
	}
	var card *ent.BankCard
	err = dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		if err := s.identity.CheckCardHolder(ctx, tx, userID, holder); err != nil {
			return err
		}
		card, err = tx.BankCard.Create().SetID(id).
			SetUserID(userID).SetToken(token).SetLast4(bank.Last4(number)).
			SetBrand(bank.Brand(number)).SetHolderName("").
			SetMaskedHolderName(kyc.MaskLegalName(holder)).
			SetHolderNameCiphertext(sealed).SetKeyVersion(version).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return card, nil
}

func noGateway() error {
	return apperr.New(apperr.InvalidState, "no bank gateway is configured on this server")
}

// MoveInput is the input of TopUp and Withdraw.
type MoveInput struct {
	BankCardID     pulid.ID
	Amount         string // decimal string in major units
	Currency       string
	IdempotencyKey string
	// Credential is the passkey assertion of a withdrawal (what
	// PublicKeyCredential.toJSON() returned for BeginWithdrawalAuthorization's
	// options); empty asks for the password-free allowance. Top-ups ignore it.
	Credential json.RawMessage
}

// move is a validated MoveInput.
type move struct {
	card     *ent.BankCard
	amount   int64
	currency money.Currency
	req      idempotency.Request
	id       pulid.ID // of the top-up or withdrawal to create (req.ResultID)
}

// validate checks in and builds its idempotency request, whose result is a
// new row with an id of the given prefix.
func (s *Service) validate(ctx context.Context, userID pulid.ID, op, prefix string, in MoveInput) (*move, error) {
	if err := idempotency.ValidateKey(in.IdempotencyKey); err != nil {
		return nil, err
	}
	m, err := s.parseMove(ctx, userID, in)
	if err != nil {
		return nil, err
	}
	m.id = pulid.New(prefix)
	m.req = idempotency.Request{
		Scope: string(userID), Key: in.IdempotencyKey, Operation: op,
		Hash:     idempotency.RequestHash(op, string(m.card.ID), money.FormatMinor(m.amount, m.currency), string(m.currency)),
		ResultID: string(m.id),
	}
	return m, nil
}

// parseMove checks the amount, the currency and the card (the caller's)
// of in.
func (s *Service) parseMove(ctx context.Context, userID pulid.ID, in MoveInput) (*move, error) {
	c, err := money.ParseCurrency(in.Currency)
	if err != nil {
		return nil, err
	}
	amount, err := money.ParsePositive(in.Amount, c)
	if err != nil {
		return nil, err
	}
	card, err := s.client.BankCard.Query().
		Where(bankcard.ID(in.BankCardID), bankcard.UserID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		// Someone else's card is as unknown as a card that does not exist.
		return nil, apperr.New(apperr.NotFound, "no such bank card").WithField("bankCardId")
	}
	if err != nil {
		return nil, err
	}
	if s.gateway == nil {
		return nil, noGateway()
	}
	return &move{card: card, amount: amount, currency: c}, nil
}

// keyed runs one idempotent request through idempotency.Run.
func keyed[T any](ctx context.Context, s *Service, req idempotency.Request,
	load func(tx *ent.Tx, id pulid.ID) (T, error),
	create func(tx *ent.Tx) (T, pulid.ID, error),
) (T, bool, error) {
	return idempotency.Run(ctx, s.keys, s.client, req,
		func(tx *ent.Tx, id string) (T, error) { return load(tx, pulid.ID(id)) },
		func(tx *ent.Tx) (T, string, error) {
			out, id, err := create(tx)
			return out, string(id), err
		})
}

// admit refuses a new top-up or withdrawal while the gateway cannot take
// more (bank.Admitter): RATE_LIMITED with retryAfterSeconds. A replay of
// an operation already started is never refused.
func (s *Service) admit() error {
	if a, ok := s.gateway.(bank.Admitter); ok && a.Room() == 0 {
		return a.Busy()
	}
	return nil
}

// TopUp starts a top-up of amount from a linked card. The result is PENDING
// until the gateway answers. replay reports that the key was seen before
// and the earlier top-up is returned unchanged. Errors: INVALID_INPUT,
// NOT_FOUND (card), VERIFICATION_REQUIRED, IDEMPOTENCY_CONFLICT,
// RATE_LIMITED (the gateway's queue is full; retryAfterSeconds).
func (s *Service) TopUp(ctx context.Context, userID pulid.ID, in MoveInput) (*ent.TopUp, bool, error) {
	m, err := s.validate(ctx, userID, "topUp", pulid.PrefixTopUp, in)
	if err != nil {
		return nil, false, err
	}
	t, replay, err := keyed(ctx, s, m.req,
		func(tx *ent.Tx, id pulid.ID) (*ent.TopUp, error) { return tx.TopUp.Get(ctx, id) },
		func(tx *ent.Tx) (*ent.TopUp, pulid.ID, error) {
			if err := s.admit(); err != nil {
				return nil, "", err
			}
			if err := s.identity.RequireVerified(ctx, tx, userID); err != nil {
				return nil, "", err
			}
			// Nothing reads the row back: on PostgreSQL it goes with the
			// COMMIT (dbtx.ExecLater).
			t, err := tx.TopUp.Create().SetID(m.id).
				SetUserID(userID).SetBankCardID(m.card.ID).SetAmount(m.amount).
				SetCurrency(string(m.currency)).Save(dbtx.ExecLater(ctx))
			if err != nil {
				return nil, "", err
			}
			_, err = events.Append(ctx, tx, opEvent("topup.created", t.ID, userID, t.Amount, m.currency, string(t.Status)))
			return t, t.ID, err
		})
	if err != nil || replay {
		return t, replay, err
	}
	// The request's context may end with the client's connection; the
	// gateway call must not. ResendPending retries it if it fails.
	if err := s.gateway.Charge(context.WithoutCancel(ctx), bank.Request{Reference: string(t.ID), Token: m.card.Token, Amount: t.Amount, Currency: t.Currency}); err != nil {
		s.log.ErrorContext(ctx, "bank charge not accepted", "topUp", t.ID, "error", err)
	}
	return t, false, nil
}

// Withdraw holds amount from the user's available balance at once and asks
// the gateway to pay it out to a linked card. It must be authorized: by a
// passkey assertion bound to it (in.Credential, from
// BeginWithdrawalAuthorization), verified and spent in the same
// transaction, or without one within the password-free allowance when
// risk allows. The freeze, the level's limits and the daily limit are
// checked and the amount counted in the same transaction, and risk
// assesses it there: a held withdrawal (HELD) keeps its amount set aside
// and goes to the bank only once an operator approves it. A failed
// withdrawal's assertion is spent all the same (never replayable).
// Errors: INVALID_INPUT, NOT_FOUND (card), VERIFICATION_REQUIRED,
// ACCOUNT_FROZEN, LIMIT_EXCEEDED, INSUFFICIENT_FUNDS (extensions
// available, held), IDEMPOTENCY_CONFLICT, PASSKEY_REQUIRED (no credential,
// outside the allowance or stepped up by risk), PASSKEY_INVALID (another
// withdrawal's or a replayed assertion), CHALLENGE_EXPIRED,
// PASSKEY_REVOKED, PASSKEY_CLONE_SUSPECTED, RATE_LIMITED (the gateway's
// queue is full; retryAfterSeconds).
func (s *Service) Withdraw(ctx context.Context, userID pulid.ID, in MoveInput) (*ent.Withdrawal, bool, error) {
	m, err := s.validate(ctx, userID, "withdraw", pulid.PrefixWithdrawal, in)
	if err != nil {
		return nil, false, err
	}
	withPasskey := len(in.Credential) > 0 && string(in.Credential) != "null"
	if withPasskey && s.passkeys == nil {
		return nil, false, apperr.New(apperr.InvalidState, "passkeys are not configured on this server")
	}
	ran := false // the transaction's function ran: this request held the key
	w, replay, err := keyed(ctx, s, m.req,
		func(tx *ent.Tx, id pulid.ID) (*ent.Withdrawal, error) { return tx.Withdrawal.Get(ctx, id) },
		func(tx *ent.Tx) (*ent.Withdrawal, pulid.ID, error) {
			ran = true
			if err := s.admit(); err != nil {
				return nil, "", err
			}
			w, err := s.withdrawTx(ctx, tx, userID, m, withPasskey, in.Credential)
			if err != nil {
				return nil, "", err
			}
			return w, w.ID, nil
		})
	if err != nil && withPasskey && idempotency.Tried(err, ran) {
		// The transaction that spent the challenge was rolled back: spend
		// it for good, and keep a clone suspicion. Not when this request
		// never held the key (a twin, the same request on another
		// instance, may be spending the challenge itself).
		ctx := context.WithoutCancel(ctx)
		if rerr := s.passkeys.RecordFailure(ctx, err); rerr != nil {
			s.log.ErrorContext(ctx, "wallet: recording a failed withdrawal authorization", "error", rerr)
		}
		if serr := s.passkeys.Spend(ctx, in.Credential); serr != nil {
			s.log.ErrorContext(ctx, "wallet: spending a failed withdrawal's challenge", "error", serr)
		}
	}
	if err != nil || replay || w.Status == withdrawal.StatusHELD {
		return w, replay, err
	}
	s.payout(ctx, w, m.card)
	return w, false, nil
}

// payout asks the gateway to pay w out to card. The request's context may
// end with the client's connection; the gateway call must not.
// ResendPending retries it if it fails.
func (s *Service) payout(ctx context.Context, w *ent.Withdrawal, card *ent.BankCard) {
	if err := s.gateway.Payout(context.WithoutCancel(ctx), bank.Request{Reference: string(w.ID), Token: card.Token, Amount: w.Amount, Currency: w.Currency}); err != nil {
		s.log.ErrorContext(ctx, "bank payout not accepted", "withdrawal", w.ID, "error", err)
	}
}

// withdrawTx is the transaction of Withdraw: the authorization (the
// assertion, or the allowance), the checks and counters, risk, the
// withdrawal row (PENDING, or HELD with a hold in the operators' queue),
// the postings and the events.
func (s *Service) withdrawTx(ctx context.Context, tx *ent.Tx, userID pulid.ID, m *move, withPasskey bool, cred json.RawMessage) (*ent.Withdrawal, error) {
	if err := s.identity.RequireVerified(ctx, tx, userID); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var evidence map[string]any
	if withPasskey {
		ev, err := s.passkeys.FinishWithdrawal(ctx, tx, passkey.WithdrawalChallengeInput{User: userID, BankCardID: m.card.ID,
			AmountMinor: m.amount, Currency: string(m.currency)}, cred)
		if err != nil {
			return nil, err
		}
		if evidence, err = ev.Map(); err != nil {
			return nil, err
		}
	}
	if err := s.identity.CheckOutflow(ctx, tx, userID, m.amount, m.currency); err != nil {
		return nil, err
	}
	o := risk.Outflow{Kind: risk.Withdrawal, UserID: userID, AmountMinor: m.amount, Currency: string(m.currency), Counterparty: m.card.ID}
	a := risk.Assessment{Decision: risk.Allow}
	if s.risk != nil {
		var err error
		if a, err = s.risk.Assess(ctx, tx, o, now); err != nil {
			return nil, err
		}
	}
	if !withPasskey {
		if err := s.identity.RecordPasswordFree(ctx, tx, userID, m.amount, m.currency, now, a.SteppedUp()); err != nil {
			return nil, err
		}
		evidence = passkey.PasswordFreeEvidence(now)
	}
	status := withdrawal.StatusPENDING
	if a.Decision == risk.Hold {
		status = withdrawal.StatusHELD
	}
	w, err := tx.Withdrawal.Create().SetID(m.id).
		SetUserID(userID).SetBankCardID(m.card.ID).SetAmount(m.amount).
		SetCurrency(string(m.currency)).SetStatus(status).SetPasswordFree(!withPasskey).
		SetRiskDecision(string(a.Decision)).SetRiskReasons(a.ReasonStrings()).Save(ctx)
	if err != nil {
		return nil, err
	}
	avail, err := s.ledger.UserAccount(ctx, tx, userID, m.currency)
	if err != nil {
		return nil, err
	}
	clearing, err := s.ledger.PlatformAccount(ctx, tx, ledger.KindWithdrawalClearing, m.currency)
	if err != nil {
		return nil, err
	}
	_, err = s.ledger.Post(ctx, tx, ledger.Entry{Kind: EntryWithdrawal, Currency: m.currency, RefID: w.ID, Evidence: evidence,
		Legs: []ledger.Leg{ledger.On(avail, -m.amount), ledger.On(clearing, m.amount)}})
	if apperr.Is(err, apperr.InsufficientFunds) {
		return nil, s.withHeld(ctx, tx, w, err)
	}
	if err != nil {
		return nil, err
	}
	if a.Decision == risk.Hold {
		if _, err := s.risk.Hold(ctx, tx, o, w.ID, a); err != nil {
			return nil, err
		}
	}
	if _, err := events.Append(ctx, tx, opEvent("withdrawal.created", w.ID, userID, w.Amount, m.currency, string(w.Status))); err != nil {
		return nil, err
	}
	_, err = events.Append(ctx, tx, balanceEvent(userID, m.currency, -m.amount, w.ID))
	return w, err
}

// withHeld adds to the INSUFFICIENT_FUNDS error of withdrawal w what the
// user has held (pending withdrawals other than w, which this transaction
// created and is about to roll back) and what w requested.
func (s *Service) withHeld(ctx context.Context, tx *ent.Tx, w *ent.Withdrawal, err error) error {
	ae, _ := apperr.As(err)
	c := money.Currency(w.Currency)
	held, herr := heldAmount(ctx, tx.Client(), w.UserID, c, withdrawal.IDNEQ(w.ID))
	if herr != nil {
		return herr
	}
	return ae.With("held", money.FormatMinor(held, c)).With("requested", money.FormatMinor(w.Amount, c)).WithField("amount")
}

// heldAmount sums the user's pending and held withdrawals in c (those matching also
// every predicate of more).
func heldAmount(ctx context.Context, client *ent.Client, userID pulid.ID, c money.Currency, more ...predicate.Withdrawal) (int64, error) {
	var rows []struct {
		Sum int64 `json:"sum"`
	}
	err := client.Withdrawal.Query().
		Where(append(more, withdrawal.UserID(userID), withdrawal.Currency(string(c)), withdrawal.StatusIn(withdrawal.StatusPENDING, withdrawal.StatusHELD))...).
		Aggregate(ent.As(ent.Sum(withdrawal.FieldAmount), "sum")).Scan(ctx, &rows)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	return rows[0].Sum, nil
}

func opEvent(typ string, id, userID pulid.ID, amount int64, c money.Currency, status string) events.Event {
	return events.Event{Type: typ, SubjectID: id, UserID: userID, Payload: map[string]any{
		"id": string(id), "status": status, "amount": money.FormatMinor(amount, c), "currency": string(c),
	}}
}

func balanceEvent(userID pulid.ID, c money.Currency, delta int64, cause pulid.ID) events.Event {
	return events.Event{Type: "balance.changed", SubjectID: userID, UserID: userID, Payload: map[string]any{
		"currency": string(c), "delta": money.FormatMinor(delta, c), "cause": string(cause),
	}}
}

// Balance is a user's money in one currency.
type Balance struct {
	Currency  money.Currency
	Available int64
	Held      int64
}

// Balances returns the user's balance per currency (CNY at zero when the
// user has no account yet).
func (s *Service) Balances(ctx context.Context, userID pulid.ID) ([]Balance, error) {
	accounts, err := s.ledger.UserAccounts(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Balance, 0, len(accounts)+1)
	for _, a := range accounts {
		out = append(out, Balance{Currency: money.Currency(a.Currency), Available: a.Balance})
	}
	if len(out) == 0 {
		out = append(out, Balance{Currency: money.CNY})
	}
	for i := range out {
		if out[i].Held, err = heldAmount(ctx, s.client, userID, out[i].Currency); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BankCards returns the user's linked cards, oldest first.
func (s *Service) BankCards(ctx context.Context, userID pulid.ID) ([]*ent.BankCard, error) {
	return s.client.BankCard.Query().Where(bankcard.UserID(userID)).Order(ent.Asc(bankcard.FieldCreatedAt)).All(ctx)
}
