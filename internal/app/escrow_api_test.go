package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"danbao/ent/ledgertransaction"
	"danbao/internal/escrow"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// escrowEnv is an instance with a movable clock, a 100.00 CNY free
// monthly volume and a 1% fee above it, and no mutation rate limit.
type escrowEnv struct {
	*testenv.Env
	clock *testenv.Clock
}

func newEscrowEnv(t *testing.T, d testenv.Dialect, more ...testenv.Option) *escrowEnv {
	t.Helper()
	c := &testenv.Clock{}
	e := testenv.New(t, d, append([]testenv.Option{testenv.WithClock(c.Now),
		testenv.With("DANBAO_FEE_FREE_MONTHLY_CNY", "100.00"),
		testenv.With("DANBAO_FEE_RATE_BPS", "100"),
		testenv.With("DANBAO_MAX_PAYMENT", "800.00"),
		testenv.With("DANBAO_MAX_CONFIRM_EXTENSIONS", "1"),
		testenv.With("DANBAO_MUTATION_RATE", "0")}, append(quietRisk, more...)...)...)
	return &escrowEnv{Env: e, clock: c}
}

// quietRisk raises risk's burst thresholds out of reach: tests of escrow
// and limits pay in quick bursts with new passkeys, which risk would
// otherwise hold (risk_api_test.go tests that with the defaults).
var quietRisk = []testenv.Option{
	testenv.With("DANBAO_RISK_BURST_MINUTE", "100000"), testenv.With("DANBAO_RISK_BURST_MINUTE_HOLD", "100000"),
	testenv.With("DANBAO_RISK_BURST_HOUR", "100000"), testenv.With("DANBAO_RISK_BURST_HOUR_HOLD", "100000"),
}

// buyer is a verified user with a passkey and a funded balance.
type buyer struct {
	*testenv.User
	auth *softauthn.Authenticator
}

func (e *escrowEnv) buyer(t *testing.T, amount string) buyer {
	t.Helper()
	u, _ := funded(t, e.Env, amount)
	a := e.Authenticator()
	e.AddPasskey(t, u, a)
	return buyer{User: u, auth: a}
}

type userError struct {
	Code       string
	Field      []string
	Extensions map[string]any
}

type paymentView struct {
	ID, Status, Amount, Fee, RefundedAmount, CompensatedAmount, HeldAmount string
	Deadlines                                                              struct {
		AuthorizeBy, ShipBy, AutoConfirmAt, RefundAnswerBy, ProtectionUntil *time.Time
		AutoConfirmPausedSeconds                                            *int
		ExtensionsUsed, ExtensionsLeft                                      int
	}
	Authorization *struct {
		Evidence            map[string]any
		LedgerTransactionID string
	}
	Shipment *struct{ Carrier, TrackingNumber string }
}

const paymentFields = `id status amount fee refundedAmount compensatedAmount heldAmount
	deadlines { authorizeBy shipBy autoConfirmAt refundAnswerBy protectionUntil autoConfirmPausedSeconds extensionsUsed extensionsLeft }
	authorization { evidence ledgerTransactionId } shipment { carrier trackingNumber }`

// result is a payment mutation's outcome: the payment, its userErrors and
// the codes of top-level errors.
type result struct {
	Payment    *paymentView
	Options    json.RawMessage
	UserErrors []userError
	TopLevel   []string
	Replay     bool
}

func (r result) code() string {
	if len(r.TopLevel) > 0 {
		return r.TopLevel[0]
	}
	if len(r.UserErrors) > 0 {
		return r.UserErrors[0].Code
	}
	return ""
}

// mutate runs one escrow mutation whose payload has payment and userErrors.
func (e *escrowEnv) mutate(t *testing.T, u *testenv.User, name, inputType string, in map[string]any) result {
	t.Helper()
	extra := ""
	if name == "createPayment" {
		extra = "authorizationOptions"
	}
	q := fmt.Sprintf(`mutation($in: %s!){ r: %s(input:$in) { payment { %s } %s userErrors { code field extensions } } }`, inputType, name, paymentFields, extra)
	resp := e.Do(t, u.AccessToken, q, map[string]any{"in": in})
	out := result{TopLevel: resp.Codes(), Replay: resp.Extensions["idempotentReplay"] == true}
	if len(resp.Errors) > 0 {
		return out
	}
	var data struct {
		R struct {
			Payment              *paymentView
			AuthorizationOptions json.RawMessage
			UserErrors           []userError
		}
	}
	resp.Decode(t, &data)
	out.Payment, out.UserErrors, out.Options = data.R.Payment, data.R.UserErrors, data.R.AuthorizationOptions
	return out
}

func (e *escrowEnv) create(t *testing.T, b buyer, payee *testenv.User, amount, key string) result {
	t.Helper()
	return e.mutate(t, b.User, "createPayment", "CreatePaymentInput", map[string]any{
		"payeeId": payee.ID, "amount": amount, "description": "a teapot", "merchantOrderRef": "order-1", "idempotencyKey": key})
}

func (e *escrowEnv) authorize(t *testing.T, b buyer, paymentID string, options json.RawMessage, key string) result {
	t.Helper()
	cred, err := b.auth.Assert(options, softauthn.AssertOptions{})
	if err != nil {
		t.Fatalf("softauthn assert: %v", err)
	}
	return e.authorizeWith(t, b, paymentID, cred, key)
}

func (e *escrowEnv) authorizeWith(t *testing.T, b buyer, paymentID string, cred json.RawMessage, key string) result {
	t.Helper()
	return e.mutate(t, b.User, "authorizePayment", "AuthorizePaymentInput", map[string]any{
		"paymentId": paymentID, "credential": cred, "idempotencyKey": key})
}

// pay creates and authorizes a payment, failing the test on any refusal.
func (e *escrowEnv) pay(t *testing.T, b buyer, payee *testenv.User, amount string) string {
	t.Helper()
	c := e.create(t, b, payee, amount, "create-"+fmt.Sprint(time.Now().UnixNano()))
	if c.code() != "" || c.Options == nil {
		t.Fatalf("createPayment: %+v", c)
	}
	a := e.authorize(t, b, c.Payment.ID, c.Options, "auth-"+c.Payment.ID)
	if a.code() != "" || a.Payment.Status != "PAID" {
		t.Fatalf("authorizePayment: %+v", a)
	}
	return c.Payment.ID
}

func (e *escrowEnv) on(t *testing.T, u *testenv.User, name, inputType string, id string, more map[string]any) result {
	t.Helper()
	in := map[string]any{"paymentId": id}
	for k, v := range more {
		in[k] = v
	}
	return e.mutate(t, u, name, inputType, in)
}

func (e *escrowEnv) ship(t *testing.T, seller *testenv.User, id string) result {
	return e.on(t, seller, "markShipped", "MarkShippedInput", id, map[string]any{"carrier": "SF Express", "trackingNumber": "SF1234567890"})
}

func (e *escrowEnv) confirm(t *testing.T, u *testenv.User, id string) result {
	return e.on(t, u, "confirmReceipt", "PaymentIdInput", id, nil)
}

func (e *escrowEnv) cancel(t *testing.T, u *testenv.User, id string) result {
	return e.on(t, u, "cancelPayment", "PaymentIdInput", id, nil)
}

func (e *escrowEnv) refund(t *testing.T, u *testenv.User, id, amount string) result {
	return e.on(t, u, "requestRefund", "RequestRefundInput", id, map[string]any{"amount": amount, "reason": "one cup was broken"})
}

func (e *escrowEnv) respond(t *testing.T, u *testenv.User, id string, accept bool) result {
	return e.on(t, u, "respondToRefund", "RespondToRefundInput", id, map[string]any{"accept": accept, "note": "ok"})
}

func (e *escrowEnv) dispute(t *testing.T, u *testenv.User, id string) result {
	return e.on(t, u, "openDispute", "OpenDisputeInput", id, map[string]any{"reason": "not as described"})
}

func (e *escrowEnv) resolve(t *testing.T, u *testenv.User, id, refund string) result {
	return e.on(t, u, "resolveDispute", "ResolveDisputeInput", id, map[string]any{"refundAmount": refund, "note": "decided"})
}

func (e *escrowEnv) payment(t *testing.T, u *testenv.User, id string) *paymentView {
	t.Helper()
	var out struct{ Payment *paymentView }
	e.Do(t, u.AccessToken, `query($id: ID!){ payment(id:$id) { `+paymentFields+` } }`, map[string]any{"id": id}).Decode(t, &out)
	return out.Payment
}

func (e *escrowEnv) available(t *testing.T, u *testenv.User) string {
	t.Helper()
	return balances(t, e.Env, u).Available
}

// runDue runs the deadline scheduler once.
func (e *escrowEnv) runDue(t *testing.T) int {
	t.Helper()
	n, err := e.App.Escrow.RunDue(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func want(t *testing.T, what string, got, wanted any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(wanted) {
		t.Fatalf("%s: got %v, want %v", what, got, wanted)
	}
}

type historyEntry struct {
	Type, Direction, Amount, BalanceAfter string
	Counterparty                          *string
	Payment                               *struct{ ID string }
}

func history(t *testing.T, e *escrowEnv, u *testenv.User) []historyEntry {
	t.Helper()
	var out struct {
		Me struct {
			Transactions struct{ Edges []struct{ Node historyEntry } }
		}
	}
	e.Do(t, u.AccessToken, `{ me { transactions(first: 10) { edges { node { type direction amount balanceAfter counterparty payment { id } } } } } }`, nil).Decode(t, &out)
	var h []historyEntry
	for _, edge := range out.Me.Transactions.Edges {
		h = append(h, edge.Node)
	}
	return h
}

func TestEscrowHappyPath(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)

		c := e.create(t, b, seller, "300.00", "order-1")
		if c.code() != "" || c.Payment.Status != "CREATED" || c.Options == nil || c.Payment.Deadlines.AuthorizeBy == nil {
			t.Fatalf("createPayment: %+v", c)
		}
		// The same key and input replay the payment.
		again := e.create(t, b, seller, "300.00", "order-1")
		want(t, "replayed id", again.Payment.ID, c.Payment.ID)
		want(t, "replay marked", again.Replay, true)
		want(t, "nothing moved on creation", e.available(t, b.User), "500.00")

		// The replay issued fresh options, replacing the first challenge.
		a := e.authorize(t, b, c.Payment.ID, again.Options, "auth-1")
		if a.code() != "" {
			t.Fatalf("authorizePayment: %+v", a)
		}
		want(t, "status", a.Payment.Status, "PAID")
		want(t, "held", a.Payment.HeldAmount, "300.00")
		want(t, "buyer after paying", e.available(t, b.User), "200.00")
		if a.Payment.Authorization == nil || a.Payment.Authorization.Evidence["userVerified"] != true || a.Payment.Authorization.Evidence["factors"] != float64(2) {
			t.Fatalf("evidence: %+v", a.Payment.Authorization)
		}
		if a.Payment.Deadlines.ShipBy == nil || a.Payment.Deadlines.AuthorizeBy != nil {
			t.Fatalf("deadlines after paying: %+v", a.Payment.Deadlines)
		}
		// The evidence is stored with the journal transaction too.
		ltx, err := e.App.DB.Client.LedgerTransaction.Query().Where(ledgertransaction.Kind(escrow.EntryPayment)).Only(context.Background())
		if err != nil || ltx.Evidence["credentialId"] == nil || string(ltx.ID) != a.Payment.Authorization.LedgerTransactionID {
			t.Fatalf("ledger evidence: %v %+v", err, ltx)
		}
		// The seller sees the payment but not the evidence.
		sp := e.payment(t, seller, c.Payment.ID)
		if sp == nil || sp.Authorization != nil {
			t.Fatalf("seller's view: %+v", sp)
		}
		verifyOK(t, e.Env)

		s := e.ship(t, seller, c.Payment.ID)
		want(t, "shipped", s.Payment.Status, "SHIPPED")
		if s.Payment.Deadlines.AutoConfirmAt == nil || s.Payment.Shipment == nil || s.Payment.Shipment.Carrier != "SF Express" {
			t.Fatalf("after shipping: %+v", s.Payment)
		}
		done := e.confirm(t, b.User, c.Payment.ID)
		want(t, "completed", done.Payment.Status, "COMPLETED")
		// 100.00 free this month, 1% on the other 200.00.
		want(t, "fee", done.Payment.Fee, "2.00")
		want(t, "held after release", done.Payment.HeldAmount, "0.00")
		want(t, "seller after release", e.available(t, seller), "298.00")
		want(t, "buyer after release", e.available(t, b.User), "200.00")
		if done.Payment.Deadlines.ProtectionUntil == nil {
			t.Fatal("no protection window")
		}
		verifyOK(t, e.Env)

		// Both histories link to the payment with the other party as counterparty.
		bh, sh := history(t, e, b.User), history(t, e, seller)
		want(t, "buyer's last entry", fmt.Sprint(bh[0].Type, " ", bh[0].Direction, " ", bh[0].Amount), "PAYMENT DEBIT 300.00")
		want(t, "seller's entry", fmt.Sprint(sh[0].Type, " ", sh[0].Direction, " ", sh[0].Amount, " ", sh[0].BalanceAfter), "PAYMENT_RELEASE CREDIT 298.00 298.00")
		if bh[0].Payment == nil || bh[0].Payment.ID != c.Payment.ID || sh[0].Payment == nil || sh[0].Counterparty == nil || bh[0].Counterparty == nil {
			t.Fatalf("history links: %+v / %+v", bh[0], sh[0])
		}

		// The audit trail, oldest first.
		var ev struct {
			Payment struct {
				Events struct {
					Edges []struct {
						Node struct {
							Type, To, ActorRole string
							From                *string
						}
					}
				}
			}
		}
		e.Do(t, b.AccessToken, `query($id: ID!){ payment(id:$id) { events { edges { node { type from to actorRole } } } } }`,
			map[string]any{"id": c.Payment.ID}).Decode(t, &ev)
		var trail []string
		for _, edge := range ev.Payment.Events.Edges {
			trail = append(trail, edge.Node.Type+">"+edge.Node.To+"/"+edge.Node.ActorRole)
		}
		want(t, "audit trail", trail, []string{"CREATE>CREATED/PAYER", "AUTHORIZE>PAID/PAYER", "SHIP>SHIPPED/PAYEE", "CONFIRM>COMPLETED/PAYER"})

		// me.payments by role.
		var mine struct {
			Me struct {
				Payments struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
		}
		e.Do(t, seller.AccessToken, `{ me { payments(filter: {role: PAYEE, status: COMPLETED}) { edges { node { id } } } } }`, nil).Decode(t, &mine)
		want(t, "seller's payments", len(mine.Me.Payments.Edges), 1)
		e.Do(t, seller.AccessToken, `{ me { payments(filter: {role: PAYER}) { edges { node { id } } } } }`, nil).Decode(t, &mine)
		want(t, "seller paid nothing", len(mine.Me.Payments.Edges), 0)
		// node(id:) follows the owner-or-operator rule.
		stranger := e.RegisterVerified(t)
		r := e.Do(t, stranger.AccessToken, `query($id: ID!){ node(id:$id) { id } }`, map[string]any{"id": c.Payment.ID})
		want(t, "stranger's node", r.Codes(), []string{"NOT_FOUND"})
	})
}

func TestEscrowRefundsDisputesAndProtection(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "900.00")
		seller := e.RegisterVerified(t)
		op := e.Operator(t)

		// Cancel before shipment: everything back.
		id := e.pay(t, b, seller, "100.00")
		want(t, "after paying", e.available(t, b.User), "800.00")
		r := e.cancel(t, b.User, id)
		want(t, "cancelled", r.Payment.Status, "REFUNDED")
		want(t, "buyer after cancel", e.available(t, b.User), "900.00")
		// Cancel before authorization: CLOSED, nothing moved.
		c := e.create(t, b, seller, "50.00", "closed-one")
		want(t, "closed", e.cancel(t, b.User, c.Payment.ID).Payment.Status, "CLOSED")
		verifyOK(t, e.Env)

		// Partial refunds after shipment, adding up to the amount.
		id = e.pay(t, b, seller, "200.00")
		e.ship(t, seller, id)
		r = e.refund(t, b.User, id, "50.00")
		want(t, "refund requested", r.Payment.Status, "REFUND_REQUESTED")
		if r.Payment.Deadlines.AutoConfirmAt != nil || r.Payment.Deadlines.AutoConfirmPausedSeconds == nil || r.Payment.Deadlines.RefundAnswerBy == nil {
			t.Fatalf("countdown not paused: %+v", r.Payment.Deadlines)
		}
		r = e.respond(t, seller, id, true)
		want(t, "partial refund returns to SHIPPED", r.Payment.Status, "SHIPPED")
		want(t, "refunded", r.Payment.RefundedAmount, "50.00")
		if r.Payment.Deadlines.AutoConfirmAt == nil {
			t.Fatal("countdown not resumed")
		}
		want(t, "over what is left", e.refund(t, b.User, id, "150.01").code(), "INVALID_INPUT")
		e.refund(t, b.User, id, "150.00")
		want(t, "last part", e.respond(t, seller, id, true).Payment.Status, "REFUNDED")
		want(t, "buyer after full refund", e.available(t, b.User), "900.00")
		verifyOK(t, e.Env)

		// A refused refund, then a dispute decided for the seller.
		id = e.pay(t, b, seller, "100.00")
		e.ship(t, seller, id)
		e.refund(t, b.User, id, "100.00")
		want(t, "refused", e.respond(t, seller, id, false).Payment.Status, "SHIPPED")
		want(t, "dispute", e.dispute(t, b.User, id).Payment.Status, "DISPUTED")
		want(t, "buyer cannot resolve", e.resolve(t, b.User, id, "0").code(), "FORBIDDEN")
		r = e.resolve(t, op, id, "0")
		want(t, "decided for the seller", r.Payment.Status, "COMPLETED")
		want(t, "fee within the free volume", r.Payment.Fee, "0.00")
		want(t, "seller", e.available(t, seller), "100.00")

		// A dispute split: 30.00 back, 70.00 released (all above the free volume now: 0.70 fee).
		id = e.pay(t, b, seller, "100.00")
		e.dispute(t, b.User, id)
		r = e.resolve(t, op, id, "30.00")
		want(t, "split", r.Payment.Status+" "+r.Payment.RefundedAmount+" "+r.Payment.Fee, "COMPLETED 30.00 0.70")
		want(t, "seller after split", e.available(t, seller), "169.30")
		want(t, "buyer after split", e.available(t, b.User), "730.00")
		verifyOK(t, e.Env)

		// Fraud claim after completion, compensated from the protection fund.
		var fund struct {
			FundProtection struct {
				Balance    *string
				UserErrors []userError
			}
		}
		e.Do(t, op.AccessToken, `mutation { fundProtection(input:{amount:"50.00", idempotencyKey:"fund-1"}) { balance userErrors { code } } }`, nil).Decode(t, &fund)
		want(t, "fund", *fund.FundProtection.Balance, "50.00")
		e.dispute(t, b.User, id) // the split payment is COMPLETED
		want(t, "more than the fund holds", e.resolve(t, op, id, "60.00").code(), "INSUFFICIENT_FUNDS")
		r = e.resolve(t, op, id, "40.00")
		want(t, "compensated", r.Payment.Status+" "+r.Payment.CompensatedAmount, "COMPLETED 40.00")
		want(t, "buyer compensated", e.available(t, b.User), "770.00")
		want(t, "seller keeps the money", e.available(t, seller), "169.30")
		verifyOK(t, e.Env)
		// After the protection window no claim.
		e.clock.Advance(721 * time.Hour)
		want(t, "window closed", e.dispute(t, b.User, id).code(), "INVALID_STATE")
	})
}

func TestEscrowDeadlines(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "900.00")
		seller := e.RegisterVerified(t)

		unpaid := e.create(t, b, seller, "10.00", "unpaid").Payment.ID
		unshipped := e.pay(t, b, seller, "20.00")
		shipped := e.pay(t, b, seller, "30.00")
		e.ship(t, seller, shipped)
		asked := e.pay(t, b, seller, "40.00")
		e.ship(t, seller, asked)
		e.refund(t, b.User, asked, "15.00")
		want(t, "nothing due yet", e.runDue(t), 0)

		e.clock.Advance(31 * time.Minute)
		want(t, "authorization window", e.runDue(t), 1)
		want(t, "unpaid closed", e.payment(t, b.User, unpaid).Status, "CLOSED")

		// Pause: the refund request has 48 h to be answered; 100 h later the
		// seller's silence is agreement and the countdown resumes.
		e.clock.Advance(100 * time.Hour)
		want(t, "ship window and refund answer", e.runDue(t), 2)
		want(t, "unshipped refunded", e.payment(t, b.User, unshipped).Status, "REFUNDED")
		p := e.payment(t, b.User, asked)
		want(t, "silence is agreement", p.Status+" "+p.RefundedAmount, "SHIPPED 15.00")
		// The shipped one: extended once, then no more.
		ext := e.on(t, b.User, "extendConfirmDeadline", "PaymentIdInput", shipped, nil)
		want(t, "extended", ext.Payment.Deadlines.ExtensionsUsed, 1)
		want(t, "no second extension", e.on(t, b.User, "extendConfirmDeadline", "PaymentIdInput", shipped, nil).code(), "LIMIT_EXCEEDED")
		e.clock.Advance(150 * time.Hour) // 250 h after shipment: the extension holds it
		e.runDue(t)
		want(t, "extended not yet", e.payment(t, b.User, shipped).Status, "SHIPPED")
		e.clock.Advance(100 * time.Hour)
		e.runDue(t)
		want(t, "auto-confirmed", e.payment(t, b.User, shipped).Status, "COMPLETED")
		// The paused one had 240 h - 0.5 h left when asked; resumed 100.5 h after, it is due then.
		p = e.payment(t, b.User, asked)
		want(t, "asked auto-confirmed", p.Status, "COMPLETED")
		want(t, "buyer", e.available(t, b.User), "845.00")
		verifyOK(t, e.Env)
	})
}

// TestPaymentEventNode checks that node(id:) shows a payment's audit
// entry to its buyer, its seller and operators, and answers NOT_FOUND to
// anyone else.
func TestPaymentEventNode(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "50.00")
		seller := e.RegisterVerified(t)
		c := e.create(t, b, seller, "10.00", "event-node")
		if c.code() != "" {
			t.Fatalf("createPayment: %+v", c)
		}
		var ev struct {
			Payment struct {
				Events struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
		}
		e.Do(t, b.AccessToken, `query($id: ID!){ payment(id:$id) { events { edges { node { id } } } } }`,
			map[string]any{"id": c.Payment.ID}).Decode(t, &ev)
		want(t, "events", len(ev.Payment.Events.Edges), 1)
		id := ev.Payment.Events.Edges[0].Node.ID
		const q = `query($id: ID!){ node(id:$id) { id ... on PaymentEvent { type payment { id } } } }`
		for who, u := range map[string]*testenv.User{"buyer": b.User, "seller": seller, "operator": e.Operator(t)} {
			var out struct {
				Node *struct {
					ID, Type string
					Payment  struct{ ID string }
				}
			}
			e.Do(t, u.AccessToken, q, map[string]any{"id": id}).Decode(t, &out)
			if out.Node == nil || out.Node.ID != id || out.Node.Type != "CREATE" || out.Node.Payment.ID != c.Payment.ID {
				t.Fatalf("%s's node: %+v", who, out.Node)
			}
		}
		r := e.Do(t, e.RegisterVerified(t).AccessToken, q, map[string]any{"id": id})
		want(t, "stranger's node", r.Codes(), []string{"NOT_FOUND"})
	})
}
