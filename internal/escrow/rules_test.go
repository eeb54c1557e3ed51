package escrow

import (
	"math"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/payment"
	"danbao/internal/apperr"
)

// legal is the state machine written out by hand, independently of the
// tables in rules.go: (state, event) -> next state, for a payment of 100
// with nothing refunded, a refund request of 100 open where one can be,
// resuming to SHIPPED, and a refund/resolution amount of 100.
var legal = map[State]map[Event]State{
	Created:         {Authorize: Paid, Hold: OnHold, Cancel: Closed, AuthorizationExpired: Closed},
	OnHold:          {ApproveHold: Paid, RejectHold: Refunded},
	Paid:            {Ship: Shipped, Cancel: Refunded, ShipExpired: Refunded, RequestRefund: RefundRequested, OpenDispute: Disputed},
	Shipped:         {Confirm: Completed, AutoConfirm: Completed, Extend: Shipped, RequestRefund: RefundRequested, OpenDispute: Disputed},
	RefundRequested: {AcceptRefund: Refunded, RefundAnswerExpired: Refunded, RefuseRefund: Shipped, OpenDispute: Disputed},
	Disputed:        {ResolveDispute: Refunded},
	Completed:       {OpenDispute: Disputed},
	Closed:          {},
	Refunded:        {},
}

var whoMay = map[Event]Actor{
	Authorize: Payer, Cancel: Payer, AuthorizationExpired: System, Ship: Payee, ShipExpired: System,
	Confirm: Payer, AutoConfirm: System, Extend: Payer, RequestRefund: Payer, AcceptRefund: Payee,
	RefuseRefund: Payee, RefundAnswerExpired: System, OpenDispute: Payer, ResolveDispute: Operator,
	Hold: Payer, ApproveHold: Operator, RejectHold: Operator,
}

func TestEveryTransition(t *testing.T) {
	n := 0
	for _, s := range States {
		for _, e := range Events {
			for _, a := range Actors {
				n++
				snap := Snapshot{State: s, Amount: 100, RefundRequest: 100, Resume: Shipped, InProtection: true}
				out, err := Transition(snap, Request{Event: e, Actor: a, Amount: 100}, Limits{MaxExtensions: 1})
				next, ok := legal[s][e]
				switch {
				case a != whoMay[e]:
					if apperr.CodeOf(err) != apperr.Forbidden {
						t.Errorf("%s %s by %s: got %v, want FORBIDDEN", s, e, a, err)
					}
				case !ok:
					ae, isApp := apperr.As(err)
					if !isApp || ae.Code != apperr.InvalidState || ae.Extensions["status"] != string(s) {
						t.Errorf("%s %s by %s: got %v, want INVALID_STATE naming %s", s, e, a, err, s)
					}
				default:
					if err != nil {
						t.Errorf("%s %s by %s: refused: %v", s, e, a, err)
					} else if out.To != next {
						t.Errorf("%s %s by %s: went to %s, want %s", s, e, a, out.To, next)
					}
					checkConserved(t, snap, out)
				}
			}
		}
	}
	if n != len(States)*len(Events)*len(Actors) || n != 9*17*4 {
		t.Fatalf("covered %d combinations", n)
	}
}

// checkConserved: the moves of an outcome never create money, and escrow
// never pays out more than it holds.
func checkConserved(t *testing.T, s Snapshot, out Outcome) {
	t.Helper()
	for _, m := range out.Moves {
		if m.Amount <= 0 || m.From == m.To {
			t.Errorf("bad move %+v", m)
		}
	}
	net := Net(out.Moves)
	var total int64
	for _, v := range net {
		total += v
	}
	if total != 0 {
		t.Errorf("moves do not balance: %v", net)
	}
	if s.State != Created && -net[EscrowAccount] > s.Remaining() {
		t.Errorf("escrow pays %d but holds %d", -net[EscrowAccount], s.Remaining())
	}
	if out.Refund != net[PayerAvailable]-out.Compensation && s.State != Created {
		t.Errorf("refund %d does not match the buyer's net %d", out.Refund, net[PayerAvailable])
	}
}

func TestMoneyOfEachTransition(t *testing.T) {
	lim := Limits{MaxExtensions: 2}
	cases := []struct {
		name string
		s    Snapshot
		req  Request
		to   State
		net  map[Party]int64
	}{
		{"authorize moves the amount into escrow", Snapshot{State: Created, Amount: 500}, Request{Authorize, Payer, 0}, Paid,
			map[Party]int64{PayerAvailable: -500, EscrowAccount: 500}},
		{"cancel before authorization moves nothing", Snapshot{State: Created, Amount: 500}, Request{Cancel, Payer, 0}, Closed, map[Party]int64{}},
		{"cancel after payment refunds what is left", Snapshot{State: Paid, Amount: 500, Refunded: 200}, Request{Cancel, Payer, 0}, Refunded,
			map[Party]int64{EscrowAccount: -300, PayerAvailable: 300}},
		{"ship window passes: refund", Snapshot{State: Paid, Amount: 500}, Request{ShipExpired, System, 0}, Refunded,
			map[Party]int64{EscrowAccount: -500, PayerAvailable: 500}},
		{"confirm releases what is left", Snapshot{State: Shipped, Amount: 500, Refunded: 120}, Request{Confirm, Payer, 0}, Completed,
			map[Party]int64{EscrowAccount: -380, PayeeAvailable: 380}},
		{"request refund moves nothing", Snapshot{State: Shipped, Amount: 500}, Request{RequestRefund, Payer, 100}, RefundRequested, map[Party]int64{}},
		{"partial refund accepted returns to SHIPPED", Snapshot{State: RefundRequested, Resume: Shipped, Amount: 500, RefundRequest: 100}, Request{AcceptRefund, Payee, 0}, Shipped,
			map[Party]int64{EscrowAccount: -100, PayerAvailable: 100}},
		{"partial refund accepted before shipment returns to PAID", Snapshot{State: RefundRequested, Resume: Paid, Amount: 500, RefundRequest: 100}, Request{AcceptRefund, Payee, 0}, Paid,
			map[Party]int64{EscrowAccount: -100, PayerAvailable: 100}},
		{"last partial refund ends REFUNDED", Snapshot{State: RefundRequested, Resume: Shipped, Amount: 500, Refunded: 400, RefundRequest: 100}, Request{RefundAnswerExpired, System, 0}, Refunded,
			map[Party]int64{EscrowAccount: -100, PayerAvailable: 100}},
		{"refused refund returns", Snapshot{State: RefundRequested, Resume: Paid, Amount: 500, RefundRequest: 100}, Request{RefuseRefund, Payee, 0}, Paid, map[Party]int64{}},
		{"dispute split", Snapshot{State: Disputed, Resume: Shipped, Amount: 500, Refunded: 100}, Request{ResolveDispute, Operator, 150}, Completed,
			map[Party]int64{EscrowAccount: -400, PayerAvailable: 150, PayeeAvailable: 250}},
		{"dispute for the seller", Snapshot{State: Disputed, Resume: Shipped, Amount: 500}, Request{ResolveDispute, Operator, 0}, Completed,
			map[Party]int64{EscrowAccount: -500, PayeeAvailable: 500}},
		{"dispute for the buyer", Snapshot{State: Disputed, Resume: Paid, Amount: 500}, Request{ResolveDispute, Operator, 500}, Refunded,
			map[Party]int64{EscrowAccount: -500, PayerAvailable: 500}},
		{"fraud claim compensated", Snapshot{State: Disputed, Resume: Completed, FraudClaim: true, Amount: 500, Refunded: 100}, Request{ResolveDispute, Operator, 400}, Completed,
			map[Party]int64{ProtectionFund: -400, PayerAvailable: 400}},
		{"fraud claim refused", Snapshot{State: Disputed, Resume: Completed, FraudClaim: true, Amount: 500}, Request{ResolveDispute, Operator, 0}, Completed, map[Party]int64{}},
		{"extension", Snapshot{State: Shipped, Amount: 500, Extensions: 1}, Request{Extend, Payer, 0}, Shipped, map[Party]int64{}},
	}
	for _, c := range cases {
		out, err := Transition(c.s, c.req, lim)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if out.To != c.to {
			t.Errorf("%s: to %s, want %s", c.name, out.To, c.to)
		}
		got := Net(out.Moves)
		for p, v := range got {
			if v == 0 {
				delete(got, p)
			}
		}
		if len(got) != len(c.net) {
			t.Errorf("%s: moves %v, want %v", c.name, got, c.net)
		}
		for p, v := range c.net {
			if got[p] != v {
				t.Errorf("%s: %s moves %d, want %d", c.name, p, got[p], v)
			}
		}
	}
}

func TestRefusedAmountsAndExtensions(t *testing.T) {
	lim := Limits{MaxExtensions: 2}
	cases := []struct {
		name string
		s    Snapshot
		req  Request
		code apperr.Code
	}{
		{"zero refund", Snapshot{State: Shipped, Amount: 500}, Request{RequestRefund, Payer, 0}, apperr.InvalidInput},
		{"negative refund", Snapshot{State: Shipped, Amount: 500}, Request{RequestRefund, Payer, -1}, apperr.InvalidInput},
		{"refund over what is left", Snapshot{State: Shipped, Amount: 500, Refunded: 450}, Request{RequestRefund, Payer, 51}, apperr.InvalidInput},
		{"resolution over what is left", Snapshot{State: Disputed, Resume: Shipped, Amount: 500, Refunded: 450}, Request{ResolveDispute, Operator, 51}, apperr.InvalidInput},
		{"negative resolution", Snapshot{State: Disputed, Resume: Shipped, Amount: 500}, Request{ResolveDispute, Operator, -1}, apperr.InvalidInput},
		{"compensation over what the seller got", Snapshot{State: Disputed, Resume: Completed, FraudClaim: true, Amount: 500, Refunded: 100}, Request{ResolveDispute, Operator, 401}, apperr.InvalidInput},
		{"no extension left", Snapshot{State: Shipped, Amount: 500, Extensions: 2}, Request{Extend, Payer, 0}, apperr.LimitExceeded},
		{"fraud claim after the window", Snapshot{State: Completed, Amount: 500, InProtection: false}, Request{OpenDispute, Payer, 0}, apperr.InvalidState},
		{"unknown event", Snapshot{State: Shipped, Amount: 500}, Request{"TELEPORT", Payer, 0}, apperr.InvalidInput},
	}
	for _, c := range cases {
		if _, err := Transition(c.s, c.req, lim); apperr.CodeOf(err) != c.code {
			t.Errorf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	// Partial refunds add up to the amount and no more.
	s := Snapshot{State: Shipped, Amount: 1000}
	for _, part := range []int64{300, 300, 400} {
		out, err := Transition(s, Request{RequestRefund, Payer, part}, lim)
		if err != nil {
			t.Fatal(err)
		}
		s.State, s.Resume, s.RefundRequest = out.To, out.Resume, part
		out, err = Transition(s, Request{AcceptRefund, Payee, 0}, lim)
		if err != nil {
			t.Fatal(err)
		}
		s.State, s.Resume, s.Refunded = out.To, out.Resume, s.Refunded+out.Refund
	}
	if s.State != Refunded || s.Refunded != 1000 {
		t.Fatalf("after 300+300+400 of 1000: %s with %d refunded", s.State, s.Refunded)
	}
}

func TestFee(t *testing.T) {
	const free = 500000 // 5,000.00 CNY
	cases := []struct {
		amount, before, free, bps, want int64
	}{
		{100000, 0, free, 60, 0},        // within the free volume
		{100000, 450000, free, 60, 300}, // 500.00 chargeable at 0.6% = 3.00
		{100000, 600000, free, 60, 600}, // all chargeable
		{83, 600000, free, 60, 0},       // 0.498 fen rounds down
		{84, 600000, free, 60, 1},       // 0.504 fen rounds up
		{250, 600000, free, 20, 1},      // exactly 0.5 fen rounds up
		{100000, 0, 0, 0, 0},            // no rate
		{100, 0, 0, 20000, 100},         // a rate above 100% is capped at the amount
		{math.MaxInt64, 0, 0, 10000, math.MaxInt64},
		{math.MaxInt64, 0, 0, 60, 55340232221128655}, // 55340232221128654.84 rounds up,
	}
	for _, c := range cases {
		if got := Fee(c.amount, c.before, c.free, c.bps); got != c.want {
			t.Errorf("Fee(%d, %d, %d, %d) = %d, want %d", c.amount, c.before, c.free, c.bps, got, c.want)
		}
	}
	moves := WithFee([]Move{{EscrowAccount, PayerAvailable, 10}, {EscrowAccount, PayeeAvailable, 1000}}, 6)
	net := Net(moves)
	if net[PayeeAvailable] != 994 || net[FeesAccount] != 6 || net[EscrowAccount] != -1010 || net[PayerAvailable] != 10 {
		t.Fatalf("WithFee: %v", net)
	}
	if Month(time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC)) != "2026-12" {
		t.Fatal("months follow China Standard Time")
	}
}

func TestSchedule(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	w := Windows{Authorization: time.Hour, ShipWithin: 72 * time.Hour, AutoConfirm: 240 * time.Hour,
		RefundAnswer: 48 * time.Hour, Extension: 72 * time.Hour, Protection: 30 * 24 * time.Hour}
	step := func(d Deadlines, s Snapshot, req Request, at time.Time) (Deadlines, Snapshot) {
		t.Helper()
		out, err := Transition(s, req, Limits{MaxExtensions: 1})
		if err != nil {
			t.Fatal(err)
		}
		d = Schedule(d, s.State, out, at, w)
		s.State, s.Resume, s.Extensions = out.To, out.Resume, out.Extensions
		s.Refunded += out.Refund
		return d, s
	}
	s := Snapshot{State: Created, Amount: 100}
	d := Deadlines{AuthorizeBy: ptr(now.Add(w.Authorization))}
	d, s = step(d, s, Request{Authorize, Payer, 0}, now)
	if d.AuthorizeBy != nil || d.ShipBy == nil || !d.ShipBy.Equal(now.Add(72*time.Hour)) {
		t.Fatalf("after authorize: %+v", d)
	}
	d, s = step(d, s, Request{Ship, Payee, 0}, now.Add(time.Hour))
	if d.ShipBy != nil || d.AutoConfirmAt == nil || !d.AutoConfirmAt.Equal(now.Add(241*time.Hour)) {
		t.Fatalf("after ship: %+v", d)
	}
	// A refund request 41 h after shipment pauses with 199 h left.
	d, s = step(d, s, Request{RequestRefund, Payer, 10}, now.Add(42*time.Hour))
	if d.AutoConfirmAt != nil || d.AutoConfirmLeft == nil || *d.AutoConfirmLeft != 199*time.Hour || d.RefundAnswerBy == nil {
		t.Fatalf("after refund request: %+v", d)
	}
	// Refused a week later: resumes with 199 h from then.
	later := now.Add(200 * time.Hour)
	d, s = step(d, s, Request{RefuseRefund, Payee, 0}, later)
	if d.AutoConfirmLeft != nil || d.RefundAnswerBy != nil || !d.AutoConfirmAt.Equal(later.Add(199*time.Hour)) {
		t.Fatalf("after refusal: %+v", d)
	}
	d, s = step(d, s, Request{Extend, Payer, 0}, later)
	if !d.AutoConfirmAt.Equal(later.Add(199*time.Hour + 72*time.Hour)) {
		t.Fatalf("after extension: %+v", d)
	}
	d, s = step(d, s, Request{Confirm, Payer, 0}, later)
	if d.AutoConfirmAt != nil || d.ProtectionUntil == nil || !d.ProtectionUntil.Equal(later.Add(w.Protection)) {
		t.Fatalf("after confirm: %+v", d)
	}
	if s.State != Completed {
		t.Fatal(s.State)
	}
	// Back to PAID after a refused request: a fresh shipping window.
	p := Snapshot{State: RefundRequested, Resume: Paid, Amount: 100, RefundRequest: 10}
	d2 := Schedule(Deadlines{RefundAnswerBy: ptr(now)}, RefundRequested, Outcome{To: Paid}, now, w)
	if d2.ShipBy == nil || !d2.ShipBy.Equal(now.Add(w.ShipWithin)) || d2.RefundAnswerBy != nil {
		t.Fatalf("back to PAID: %+v (%v)", d2, p.State)
	}
}

func ptr(t time.Time) *time.Time { return &t }

// TestOverdueState: once the deadline running in a state has passed, the
// scheduler's event and the user events that settle as it does (cancel,
// confirm, accept the refund) still apply; every other user event is
// INVALID_STATE naming the state and the deadline.
func TestOverdueState(t *testing.T) {
	dueDeadline := map[State]string{Created: "authorizeBy", Paid: "shipBy", Shipped: "autoConfirmAt", RefundRequested: "refundAnswerBy"}
	for _, s := range []State{Created, Paid, Shipped, RefundRequested} {
		for _, e := range Events {
			a := whoMay[e]
			if _, ok := legal[s][e]; !ok {
				continue
			}
			snap := Snapshot{State: s, Amount: 100, RefundRequest: 50, Resume: Shipped, Overdue: dueDeadline[s]}
			_, err := Transition(snap, Request{Event: e, Actor: a, Amount: 10}, Limits{MaxExtensions: 1})
			allowed := a == System || settlesAsDue(e, s)
			ae, _ := apperr.As(err)
			switch {
			case allowed && err != nil:
				t.Errorf("%s %s by %s when overdue: refused: %v", s, e, a, err)
			case !allowed && (ae == nil || ae.Code != apperr.InvalidState || ae.Extensions["deadline"] != dueDeadline[s]):
				t.Errorf("%s %s by %s when overdue: got %v, want INVALID_STATE naming %s", s, e, a, err, dueDeadline[s])
			}
		}
	}
}

// TestSnapshotNamesTheOverdueDeadline: snapshot names the deadline running
// in the payment's status once it has passed (at its instant included),
// and nothing before it or for a deadline of another status.
func TestSnapshotNamesTheOverdueDeadline(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	past, later := now.Add(-time.Second), now.Add(time.Second)
	for _, c := range []struct {
		p    ent.Payment
		want string
	}{
		{ent.Payment{Status: payment.StatusCREATED, AuthorizeBy: &past}, "authorizeBy"},
		{ent.Payment{Status: payment.StatusCREATED, AuthorizeBy: &now}, "authorizeBy"},
		{ent.Payment{Status: payment.StatusCREATED, AuthorizeBy: &later}, ""},
		{ent.Payment{Status: payment.StatusPAID, ShipBy: &past}, "shipBy"},
		{ent.Payment{Status: payment.StatusSHIPPED, AutoConfirmAt: &past}, "autoConfirmAt"},
		{ent.Payment{Status: payment.StatusREFUND_REQUESTED, RefundAnswerBy: &past}, "refundAnswerBy"},
		{ent.Payment{Status: payment.StatusPAID, AuthorizeBy: &past}, ""},
		{ent.Payment{Status: payment.StatusCOMPLETED, AutoConfirmAt: &past}, ""},
	} {
		if got := snapshot(&c.p, now).Overdue; got != c.want {
			t.Errorf("%s: Overdue %q, want %q", c.p.Status, got, c.want)
		}
	}
}
