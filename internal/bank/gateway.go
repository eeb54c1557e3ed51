package bank

import (
	"context"

	"danbao/internal/apperr"
	"danbao/internal/money"
)

// CallbackPath is where gateways post their signed outcome notifications.
const CallbackPath = "/callbacks/bank"

// Operation kinds in callbacks.
const (
	KindCharge = "charge" // money in from a card (top-up)
	KindPayout = "payout" // money out to a card (withdrawal)
)

// Request asks the gateway to move money for one of our operations.
type Request struct {
	Reference string // our top-up or withdrawal ID
	Token     string // the card token from Tokenize
	Amount    int64  // minor units
	Currency  string
}

// Callback is the body of an outcome notification. Amount and Currency say
// what the bank actually moved: the wallet applies the outcome only if they
// equal the operation's own (see CheckAmount).
type Callback struct {
	ID        string  `json:"id"`        // the notification's own ID (the same on every retry)
	Kind      string  `json:"kind"`      // charge or payout
	Reference string  `json:"reference"` // our operation ID
	Outcome   Outcome `json:"outcome"`   // SUCCEEDED or DECLINED
	Amount    int64   `json:"amount"`    // minor units of Currency, as moved (or refused) by the bank
	Currency  string  `json:"currency"`  // ISO 4217 code
	Reason    string  `json:"reason,omitempty"`
}

// CallbackFor returns the callback a gateway sends when it decides r.
func CallbackFor(id, kind string, r Request, outcome Outcome, reason string) Callback {
	return Callback{ID: id, Kind: kind, Reference: r.Reference, Outcome: outcome,
		Amount: r.Amount, Currency: r.Currency, Reason: reason}
}

// CheckAmount refuses a callback whose amount or currency differs from
// those of the operation it names (amount in minor units of currency): a
// partial capture, a wrong currency or a callback meant for another
// operation. Errors: INVALID_INPUT when the callback carries no amount or
// no currency; AMOUNT_MISMATCH (extensions expected, received) otherwise.
func CheckAmount(cb Callback, amount int64, currency string) error {
	if cb.Amount <= 0 || cb.Currency == "" {
		return apperr.Invalid("amount", "callback must carry a positive amount and a currency")
	}
	if cb.Amount == amount && cb.Currency == currency {
		return nil
	}
	return apperr.New(apperr.AmountMismatch, "callback amount or currency differs from the operation's").
		With("expected", money.FormatMinor(amount, money.Currency(currency))+" "+currency).
		With("received", money.FormatMinor(cb.Amount, money.Currency(cb.Currency))+" "+cb.Currency)
}

// Gateway is an acquirer. Charge and Payout only accept the request; the
// outcome arrives later as a signed Callback at CallbackPath. Calls may do
// network I/O: callers make them outside database transactions.
type Gateway interface {
	// Tokenize validates a card number and returns the gateway's token for
	// it. The number itself is never stored by danbao.
	Tokenize(ctx context.Context, number string) (string, error)
	// Charge asks the gateway to take r.Amount from the card (a top-up).
	Charge(ctx context.Context, r Request) error
	// Payout asks the gateway to send r.Amount to the card (a withdrawal).
	Payout(ctx context.Context, r Request) error
}

// Settler is implemented by a test-mode gateway that holds some operations
// until an operator decides them (the sandbox's pending card).
type Settler interface {
	// Holds reports whether operations on the card with this token wait
	// for Settle.
	Holds(token string) bool
	// Settle decides the held operation r of the given kind: its outcome
	// follows as a callback.
	Settle(ctx context.Context, kind string, r Request, succeed bool) error
}

// Admitter is implemented by a gateway whose outcomes wait in a bounded
// queue (the sandbox's callbacks): the wallet asks it before starting an
// operation, so that a saturated gateway pushes back on new work instead
// of letting a backlog grow without bound.
type Admitter interface {
	// Room reports how many more requests the gateway accepts now (0 when
	// its queue is full).
	Room() int
	// Busy is the error a saturated gateway is answered with: RATE_LIMITED
	// with extensions.retryAfterSeconds.
	Busy() error
}
