package escrow

import (
	"time"

	"danbao/internal/apperr"
)

// State is a payment's status (ent payment.Status values).
type State string

// The states of an escrowed payment.
const (
	Created         State = "CREATED"
	Paid            State = "PAID"
	Shipped         State = "SHIPPED"
	Completed       State = "COMPLETED"
	Closed          State = "CLOSED"
	RefundRequested State = "REFUND_REQUESTED"
	Refunded        State = "REFUNDED"
	Disputed        State = "DISPUTED"
	// OnHold: authorized with the money in escrow, but held by risk for an
	// operator's review (no deadline runs).
	OnHold State = "HELD"
)

// States lists every state.
var States = []State{Created, Paid, Shipped, Completed, Closed, RefundRequested, Refunded, Disputed, OnHold}

// Terminal reports whether nothing can happen to a payment in s any more.
// COMPLETED is not terminal: a fraud claim may still be opened within the
// protection window.
func (s State) Terminal() bool { return s == Closed || s == Refunded }

// Event is what happens to a payment.
type Event string

// The events of the state machine.
const (
	Authorize            Event = "AUTHORIZE"             // payer's passkey authorizes: money into escrow
	Cancel               Event = "CANCEL"                // payer cancels before shipment
	AuthorizationExpired Event = "AUTHORIZATION_EXPIRED" // deadline: never authorized
	Ship                 Event = "SHIP"                  // payee ships
	ShipExpired          Event = "SHIP_EXPIRED"          // deadline: not shipped in time
	Confirm              Event = "CONFIRM"               // payer confirms receipt
	AutoConfirm          Event = "AUTO_CONFIRM"          // deadline: receipt confirmed by silence
	Extend               Event = "EXTEND"                // payer extends the auto-confirm countdown
	RequestRefund        Event = "REQUEST_REFUND"        // payer asks for (part of) the money back
	AcceptRefund         Event = "ACCEPT_REFUND"         // payee agrees
	RefuseRefund         Event = "REFUSE_REFUND"         // payee refuses
	RefundAnswerExpired  Event = "REFUND_ANSWER_EXPIRED" // deadline: the payee's silence is agreement
	OpenDispute          Event = "OPEN_DISPUTE"          // payer asks the operator to decide (a fraud claim after completion)
	ResolveDispute       Event = "RESOLVE_DISPUTE"       // operator decides
	Hold                 Event = "HOLD"                  // payer's passkey authorizes, risk holds: money into escrow, waiting for review
	ApproveHold          Event = "APPROVE_HOLD"          // operator releases a held payment
	RejectHold           Event = "REJECT_HOLD"           // operator rejects a held payment: money back to the buyer
)

// Events lists every event.
var Events = []Event{Authorize, Cancel, AuthorizationExpired, Ship, ShipExpired, Confirm, AutoConfirm, Extend,
	RequestRefund, AcceptRefund, RefuseRefund, RefundAnswerExpired, OpenDispute, ResolveDispute,
	Hold, ApproveHold, RejectHold}

// Actor is in what capacity someone acts on a payment (ent
// paymentevent.ActorRole values).
type Actor string

// The actors.
const (
	Payer    Actor = "PAYER"
	Payee    Actor = "PAYEE"
	Operator Actor = "OPERATOR"
	System   Actor = "SYSTEM" // the deadline scheduler
)

// Actors lists every actor.
var Actors = []Actor{Payer, Payee, Operator, System}

// Party is an account a posting touches, named by its role in the payment.
type Party string

// The parties of a payment's postings.
const (
	PayerAvailable Party = "PAYER_AVAILABLE"
	PayeeAvailable Party = "PAYEE_AVAILABLE"
	EscrowAccount  Party = "ESCROW"
	FeesAccount    Party = "FEES"
	ProtectionFund Party = "PROTECTION_FUND"
)

// Move is one abstract movement of money: Amount minor units from From to
// To. A transition's moves become one balanced journal transaction.
type Move struct {
	From, To Party
	Amount   int64
}

// actors says who may cause each event; anyone else is FORBIDDEN whatever
// the payment's state.
var actors = map[Event]Actor{
	Authorize: Payer, Cancel: Payer, AuthorizationExpired: System,
	Ship: Payee, ShipExpired: System,
	Confirm: Payer, AutoConfirm: System, Extend: Payer,
	RequestRefund: Payer, AcceptRefund: Payee, RefuseRefund: Payee, RefundAnswerExpired: System,
	OpenDispute: Payer, ResolveDispute: Operator,
	Hold: Payer, ApproveHold: Operator, RejectHold: Operator,
}

// ActorOf returns who may cause e.
func ActorOf(e Event) Actor { return actors[e] }

// from says in which states each event is legal.
var from = map[Event][]State{
	Authorize:            {Created},
	Cancel:               {Created, Paid},
	AuthorizationExpired: {Created},
	Ship:                 {Paid},
	ShipExpired:          {Paid},
	Confirm:              {Shipped},
	AutoConfirm:          {Shipped},
	Extend:               {Shipped},
	RequestRefund:        {Paid, Shipped},
	AcceptRefund:         {RefundRequested},
	RefuseRefund:         {RefundRequested},
	RefundAnswerExpired:  {RefundRequested},
	OpenDispute:          {Paid, Shipped, RefundRequested, Completed},
	ResolveDispute:       {Disputed},
	Hold:                 {Created},
	ApproveHold:          {OnHold},
	RejectHold:           {OnHold},
}

// LegalIn reports whether e may happen in state s (by its actor).
func LegalIn(e Event, s State) bool {
	for _, f := range from[e] {
		if f == s {
			return true
		}
	}
	return false
}

// Snapshot is what a transition needs to know of a payment.
type Snapshot struct {
	State  State
	Resume State // while REFUND_REQUESTED or DISPUTED: where it returns
	Amount int64 // paid into escrow, minor units
	// Refunded is what has gone back to the buyer from escrow so far.
	Refunded int64
	// Compensated is what the protection fund has paid the buyer.
	Compensated int64
	// RefundRequest is the open refund request's amount (REFUND_REQUESTED).
	RefundRequest int64
	Extensions    int  // auto-confirm extensions used
	FraudClaim    bool // the open dispute was opened after completion
	// InProtection reports whether a fraud claim may still be opened
	// (COMPLETED, before protectionUntil).
	InProtection bool
	// Overdue names the deadline running in State when it has passed
	// (authorizeBy, shipBy, autoConfirmAt, refundAnswerBy), so that the
	// scheduler's event is due even if it has not run yet; "" otherwise.
	Overdue string
}

// settlesAsDue reports whether event e in state s has the outcome of the
// deadline's own event there: the buyer cancelling an unpaid or unshipped
// payment, confirming receipt, the seller accepting the refund asked for.
// Only these may still happen once the state's deadline has passed.
func settlesAsDue(e Event, s State) bool {
	switch s {
	case Created, Paid:
		return e == Cancel
	case Shipped:
		return e == Confirm
	case RefundRequested:
		return e == AcceptRefund
	}
	return false
}

// Remaining is what escrow still holds for the payment once it is paid:
// the amount less refunds. Zero before authorization and after release.
func (s Snapshot) Remaining() int64 { return s.Amount - s.Refunded }

// Request is one attempted transition.
type Request struct {
	Event Event
	Actor Actor
	// Amount: the refund asked for (REQUEST_REFUND) or decided
	// (RESOLVE_DISPUTE), minor units.
	Amount int64
}

// Outcome is what a legal transition does.
type Outcome struct {
	To     State
	Resume State // the new Resume (empty when none)
	// Moves are the postings, before the fee: a release is one move from
	// escrow to the payee of everything released; WithFee splits it.
	Moves []Move
	// Refund is added to Refunded (money from escrow to the buyer).
	Refund int64
	// Compensation is added to Compensated (money from the protection fund).
	Compensation int64
	// Release is what escrow pays the payee (fee not yet deducted).
	Release    int64
	Extensions int  // the new extension count
	Extended   bool // this transition extended the auto-confirm countdown
	FraudClaim bool // the new fraud-claim flag
}

// Limits are the configured bounds a transition checks.
type Limits struct {
	MaxExtensions int
}

// Transition decides req on a payment in snapshot s: the next state and
// the money each move makes, or why not. It is pure: the service applies
// the outcome with a compare-and-set on s.State. Errors: FORBIDDEN (the
// actor may never cause the event), INVALID_STATE (not in this state;
// extensions status: the current state; or, with extensions deadline, the
// state's deadline has passed and the event is not one that settles as
// the deadline does), INVALID_INPUT on amount (a refund
// of zero, or more than escrow still holds; a compensation over what the
// seller received), LIMIT_EXCEEDED (no extension left).
func Transition(s Snapshot, req Request, lim Limits) (Outcome, error) {
	who, known := actors[req.Event]
	if !known {
		return Outcome{}, apperr.New(apperr.InvalidInput, "unknown payment event %q", req.Event)
	}
	if req.Actor != who {
		return Outcome{}, forbidden(req.Event)
	}
	if !LegalIn(req.Event, s.State) || (req.Event == OpenDispute && s.State == Completed && !s.InProtection) {
		return Outcome{}, InvalidState(s.State, req.Event)
	}
	if s.Overdue != "" && req.Actor != System && !settlesAsDue(req.Event, s.State) {
		// The deadline decided already; the scheduler only writes it down.
		return Outcome{}, apperr.New(apperr.InvalidState, "a %s payment cannot take %s: its %s deadline has passed",
			s.State, req.Event, s.Overdue).With("status", string(s.State)).With("deadline", s.Overdue)
	}
	out := Outcome{To: s.State, Resume: s.Resume, Extensions: s.Extensions, FraudClaim: s.FraudClaim}
	remaining := s.Remaining()
	refund := func(amount int64) {
		if amount > 0 {
			out.Moves = append(out.Moves, Move{From: EscrowAccount, To: PayerAvailable, Amount: amount})
			out.Refund += amount
		}
	}
	release := func(amount int64) {
		if amount > 0 {
			out.Moves = append(out.Moves, Move{From: EscrowAccount, To: PayeeAvailable, Amount: amount})
			out.Release = amount
		}
	}
	switch req.Event {
	case Authorize, Hold:
		out.To = Paid
		if req.Event == Hold {
			out.To = OnHold
		}
		out.Moves = []Move{{From: PayerAvailable, To: EscrowAccount, Amount: s.Amount}}
	case ApproveHold:
		out.To = Paid
	case RejectHold:
		out.To = Refunded
		refund(remaining)
	case Cancel, ShipExpired, AuthorizationExpired:
		if s.State == Created {
			out.To = Closed
		} else {
			out.To = Refunded
			refund(remaining)
		}
	case Ship:
		out.To = Shipped
	case Confirm, AutoConfirm:
		out.To = Completed
		release(remaining)
	case Extend:
		if s.Extensions >= lim.MaxExtensions {
			return Outcome{}, apperr.New(apperr.LimitExceeded, "the receipt deadline was already extended %d times, the most allowed", s.Extensions).
				With("limit", "CONFIRM_EXTENSIONS").With("used", s.Extensions).With("max", lim.MaxExtensions)
		}
		out.Extensions++
		out.Extended = true
	case RequestRefund:
		if err := checkRefund(req.Amount, remaining); err != nil {
			return Outcome{}, err
		}
		out.To, out.Resume = RefundRequested, s.State
	case AcceptRefund, RefundAnswerExpired:
		refund(s.RefundRequest)
		out.To, out.Resume = s.Resume, ""
		if s.RefundRequest >= remaining {
			out.To = Refunded
		}
	case RefuseRefund:
		out.To, out.Resume = s.Resume, ""
	case OpenDispute:
		out.To = Disputed
		if s.State == Completed {
			out.Resume, out.FraudClaim = Completed, true
		} else if s.State != RefundRequested {
			out.Resume = s.State
		}
	case ResolveDispute:
		if s.FraudClaim {
			// The seller already has the money: the protection fund pays.
			if req.Amount < 0 || req.Amount > remaining-s.Compensated {
				return Outcome{}, apperr.Invalid("refundAmount", "compensation must be between 0 and what the seller received less earlier compensation")
			}
			if req.Amount > 0 {
				out.Moves = []Move{{From: ProtectionFund, To: PayerAvailable, Amount: req.Amount}}
				out.Compensation = req.Amount
			}
			out.To, out.Resume, out.FraudClaim = Completed, "", false
			break
		}
		if req.Amount < 0 || req.Amount > remaining {
			return Outcome{}, apperr.Invalid("refundAmount", "refund must be between 0 and what escrow still holds")
		}
		refund(req.Amount)
		release(remaining - req.Amount)
		out.To, out.Resume = Completed, ""
		if req.Amount == remaining {
			out.To = Refunded
		}
	}
	return out, nil
}

func checkRefund(amount, remaining int64) error {
	if amount <= 0 {
		return apperr.Invalid("amount", "a refund must be greater than zero")
	}
	if amount > remaining {
		return apperr.Invalid("amount", "a refund cannot exceed what is left of the payment").
			With("remaining", remaining)
	}
	return nil
}

func forbidden(e Event) error {
	who := map[Actor]string{Payer: "the buyer", Payee: "the seller", Operator: "an operator", System: "the scheduler"}[actors[e]]
	return apperr.New(apperr.Forbidden, "only %s may do this (%s)", who, e)
}

// InvalidState is the error for event e attempted on a payment in s.
func InvalidState(s State, e Event) error {
	return apperr.New(apperr.InvalidState, "a %s payment cannot take %s", s, e).With("status", string(s))
}

// Deadlines are a payment's timers. A nil field is not running.
type Deadlines struct {
	AuthorizeBy     *time.Time
	ShipBy          *time.Time
	AutoConfirmAt   *time.Time
	AutoConfirmLeft *time.Duration // the paused countdown
	RefundAnswerBy  *time.Time
	ProtectionUntil *time.Time
}

// Windows are the configured deadline lengths.
type Windows struct {
	Authorization time.Duration // CREATED -> CLOSED
	ShipWithin    time.Duration // PAID -> REFUNDED
	AutoConfirm   time.Duration // SHIPPED -> COMPLETED
	RefundAnswer  time.Duration // REFUND_REQUESTED -> refund accepted
	Extension     time.Duration // how much one extension adds
	Protection    time.Duration // COMPLETED: fraud claims until
}

// Schedule returns the deadlines after a transition from state before to
// out at now: every timer not of the new state stops; the auto-confirm
// countdown pauses (its remaining time kept) when a shipped payment gets a
// refund request or dispute and resumes with that time when it returns to
// SHIPPED; an extension adds Windows.Extension to it.
func Schedule(d Deadlines, before State, out Outcome, now time.Time, w Windows) Deadlines {
	at := func(x time.Duration) *time.Time { t := now.Add(x); return &t }
	next := Deadlines{ProtectionUntil: d.ProtectionUntil}
	switch out.To {
	case Created:
		next.AuthorizeBy = d.AuthorizeBy
	case Paid:
		next.ShipBy = d.ShipBy
		if before == Created {
			next.ShipBy = at(w.ShipWithin)
		}
	case Shipped:
		switch {
		case before == Paid:
			next.AutoConfirmAt = at(w.AutoConfirm)
		case d.AutoConfirmLeft != nil: // resumed
			next.AutoConfirmAt = at(*d.AutoConfirmLeft)
		default:
			next.AutoConfirmAt = d.AutoConfirmAt
		}
		if out.Extended && next.AutoConfirmAt != nil {
			t := next.AutoConfirmAt.Add(w.Extension)
			next.AutoConfirmAt = &t
		}
	case RefundRequested, Disputed:
		if out.To == RefundRequested {
			next.RefundAnswerBy = at(w.RefundAnswer)
		}
		next.AutoConfirmLeft = d.AutoConfirmLeft
		if before == Shipped && d.AutoConfirmAt != nil {
			left := max(d.AutoConfirmAt.Sub(now), 0)
			next.AutoConfirmLeft = &left
		}
		// The shipping window stops too: a paid payment under a refund
		// request or dispute waits for its outcome, and gets a fresh window
		// if it returns to PAID.
	case Completed:
		next.ProtectionUntil = d.ProtectionUntil
		if before != Disputed || next.ProtectionUntil == nil {
			next.ProtectionUntil = at(w.Protection)
		}
	}
	if out.To == Paid && before != Created {
		// Back from a refund request or dispute before shipment: the seller
		// gets a fresh shipping window.
		next.ShipBy = at(w.ShipWithin)
	}
	return next
}
