package app_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"danbao/ent/ledgertransaction"
	"danbao/ent/passkeysession"
	"danbao/ent/schema/pulid"
	"danbao/internal/escrow"
	"danbao/internal/passkey"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// moneySnapshot is what a refused operation must leave unchanged.
type moneySnapshot struct {
	buyer, seller string
	ledger        int
}

func (e *escrowEnv) snap(t *testing.T, b buyer, seller *testenv.User) moneySnapshot {
	t.Helper()
	return moneySnapshot{e.available(t, b.User), e.available(t, seller), ledgerCount(t, e.Env)}
}

func TestEscrowRefusals(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "900.00")
		seller := e.RegisterVerified(t)
		stranger := e.RegisterVerified(t)
		op := e.Operator(t)
		unverified := e.Register(t)

		refused := func(what, got, code string, before moneySnapshot) {
			t.Helper()
			if got != code {
				t.Fatalf("%s: got %q, want %s", what, got, code)
			}
			if after := e.snap(t, b, seller); after != before {
				t.Fatalf("%s changed money: %+v -> %+v", what, before, after)
			}
		}
		id := e.pay(t, b, seller, "100.00")
		before := e.snap(t, b, seller)
		refused("buyer ships", e.ship(t, b.User, id).code(), "FORBIDDEN", before)
		refused("stranger ships", e.ship(t, stranger, id).code(), "NOT_FOUND", before)
		refused("confirm before shipment", e.confirm(t, b.User, id).code(), "INVALID_STATE", before)
		r := e.confirm(t, b.User, id)
		want(t, "INVALID_STATE names the state", r.UserErrors[0].Extensions["status"], "PAID")
		e.ship(t, seller, id)
		before = e.snap(t, b, seller)
		refused("seller confirms", e.confirm(t, seller, id).code(), "FORBIDDEN", before)
		refused("stranger confirms", e.confirm(t, stranger, id).code(), "NOT_FOUND", before)
		refused("cancel after shipment", e.cancel(t, b.User, id).code(), "INVALID_STATE", before)
		refused("refund over the amount", e.refund(t, b.User, id, "100.01").code(), "INVALID_INPUT", before)
		refused("zero refund", e.refund(t, b.User, id, "0").code(), "INVALID_INPUT", before)
		refused("malformed refund", e.refund(t, b.User, id, "1.234").code(), "INVALID_INPUT", before)
		refused("respond without a request", e.respond(t, seller, id, true).code(), "INVALID_STATE", before)
		refused("operator resolves no dispute", e.resolve(t, op, id, "0").code(), "INVALID_STATE", before)

		// Creation refusals.
		create := func(payee *testenv.User, amount string) string {
			return e.create(t, b, payee, amount, "refused-"+amount+payee.ID).code()
		}
		refused("paying oneself", create(b.User, "1.00"), "INVALID_INPUT", before)
		refused("unverified payee", create(unverified, "1.00"), "VERIFICATION_REQUIRED", before)
		refused("zero amount", create(seller, "0"), "INVALID_INPUT", before)
		refused("over the maximum", create(seller, "800.01"), "LIMIT_EXCEEDED", before)
		refused("unknown currency", e.mutate(t, b.User, "createPayment", "CreatePaymentInput", map[string]any{
			"payeeId": seller.ID, "amount": "1.00", "currency": "XXX", "idempotencyKey": "k-xxx"}).code(), "INVALID_INPUT", before)
		refused("same key, other input", e.create(t, b, seller, "2.00", "refused-1.00"+seller.ID+"x").code(), "", before)
		refused("key reuse", e.create(t, b, seller, "3.00", "refused-1.00"+seller.ID+"x").code(), "IDEMPOTENCY_CONFLICT", before)

		// Assertions: another payment's, a changed amount's, a replay.
		p1 := e.create(t, b, seller, "10.00", "p1")
		p2 := e.create(t, b, seller, "20.00", "p2")
		cred2, err := b.auth.Assert(p2.Options, softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before = e.snap(t, b, seller)
		refused("another payment's assertion", e.authorizeWith(t, b, p1.Payment.ID, cred2, "x1").code(), "PASSKEY_INVALID", before)
		ps, err := e.App.DB.Client.PasskeySession.Query().Where(passkeysession.PaymentID(p1.Payment.ID)).Only(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		changed := passkey.PaymentChallenge(passkey.PaymentChallengeInput{PaymentID: p1.Payment.ID, Payer: pulid.ID(b.ID),
			Payee: pulid.ID(seller.ID), AmountMinor: 1, Currency: "CNY"}, ps.Nonce)
		credChanged, err := b.auth.Assert(p1.Options, softauthn.AssertOptions{Challenge: changed})
		if err != nil {
			t.Fatal(err)
		}
		refused("changed amount's assertion", e.authorizeWith(t, b, p1.Payment.ID, credChanged, "x2").code(), "PASSKEY_INVALID", before)
		opts := e.beginAuth(t, b, p1.Payment.ID)
		cred1, err := b.auth.Assert(opts, softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r := e.authorizeWith(t, b, p1.Payment.ID, cred1, "x3"); r.code() != "" {
			t.Fatalf("authorize: %+v", r)
		}
		before = e.snap(t, b, seller)
		// The same assertion under a new key: the challenge is spent.
		refused("replayed assertion", e.authorizeWith(t, b, p1.Payment.ID, cred1, "x4").code(), "INVALID_STATE", before)
		// The same key: the first result, replayed, nothing moved again.
		rp := e.authorizeWith(t, b, p1.Payment.ID, cred1, "x3")
		want(t, "replay", rp.Replay && rp.code() == "", true)
		want(t, "replay moved nothing", e.snap(t, b, seller), before)
		// p2's first challenge was spent by the refused attempt on p1.
		refused("p2's spent challenge", e.authorizeWith(t, b, p2.Payment.ID, cred2, "x5").code(), "PASSKEY_INVALID", before)
		cred2again, _ := b.auth.Assert(e.beginAuth(t, b, p2.Payment.ID), softauthn.AssertOptions{})
		if r := e.authorizeWith(t, b, p2.Payment.ID, cred2again, "x5"); r.code() != "" {
			t.Fatalf("authorize p2: %+v", r)
		}
		p3 := e.create(t, b, seller, "5.00", "p3")
		before = e.snap(t, b, seller)
		refused("assertion replayed onto another payment", e.authorizeWith(t, b, p3.Payment.ID, cred2again, "x6").code(), "PASSKEY_INVALID", before)

		// A money transaction that fails after the challenge was spent: the
		// challenge stays spent and the failure is on the audit trail.
		big := e.create(t, b, seller, "800.00", "big") // more than the buyer has left
		before = e.snap(t, b, seller)
		credBig, _ := b.auth.Assert(big.Options, softauthn.AssertOptions{})
		refused("insufficient funds", e.authorizeWith(t, b, big.Payment.ID, credBig, "x7").code(), "INSUFFICIENT_FUNDS", before)
		refused("retry with the spent challenge", e.authorizeWith(t, b, big.Payment.ID, credBig, "x8").code(), "PASSKEY_INVALID", before)
		n, err := e.App.DB.Client.PaymentEvent.Query().Where().All(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, pe := range n {
			if string(pe.PaymentID) == big.Payment.ID && pe.Event == "AUTHORIZATION_FAILED" && pe.Detail["code"] == "INSUFFICIENT_FUNDS" {
				failed++
			}
		}
		want(t, "failure on the audit trail", failed, 1)

		// Frozen payer, restricted payee.
		control := func(name, flag string, u *testenv.User, on bool) {
			t.Helper()
			e.control(t, op, name, flag, u, on)
		}
		p4 := e.create(t, b, seller, "5.00", "p4")
		control("freezeAccount", "frozen", b.User, true)
		before = e.snap(t, b, seller)
		refused("frozen payer creates", e.create(t, b, seller, "5.00", "frozen-1").code(), "ACCOUNT_FROZEN", before)
		refused("frozen payer authorizes", e.authorize(t, b, p4.Payment.ID, p4.Options, "frozen-2").code(), "ACCOUNT_FROZEN", before)
		control("freezeAccount", "frozen", b.User, false)
		control("restrictCollection", "restricted", seller, true)
		refused("restricted payee", e.create(t, b, seller, "5.00", "restricted-1").code(), "ACCOUNT_FROZEN", before)
		control("restrictCollection", "restricted", seller, false)
		if r := e.create(t, b, seller, "5.00", "restricted-1"); r.code() != "" {
			t.Fatalf("after lifting: %+v", r)
		}
		// Only operators freeze.
		resp := e.Do(t, b.AccessToken, `mutation($in: FreezeAccountInput!){ freezeAccount(input:$in) { userErrors { code } } }`,
			map[string]any{"in": map[string]any{"userId": seller.ID, "frozen": true, "reason": "spite"}})
		want(t, "user freezes", resp.Codes(), []string{"FORBIDDEN"})
		verifyOK(t, e.Env)
	})
}

// control has op switch an operator's control on u: name freezeAccount
// (flag frozen) or restrictCollection (flag restricted), with the reason
// "fake trades".
func (e *escrowEnv) control(t *testing.T, op *testenv.User, name, flag string, u *testenv.User, on bool) {
	t.Helper()
	var out map[string]struct{ UserErrors []userError }
	e.Do(t, op.AccessToken, `mutation($in: `+map[string]string{"freezeAccount": "FreezeAccountInput", "restrictCollection": "RestrictCollectionInput"}[name]+`!){ r: `+name+`(input:$in) { userErrors { code } } }`,
		map[string]any{"in": map[string]any{"userId": u.ID, flag: on, "reason": "fake trades"}}).Decode(t, &out)
	if len(out["r"].UserErrors) > 0 {
		t.Fatalf("%s: %+v", name, out)
	}
}

func (e *escrowEnv) beginAuth(t *testing.T, b buyer, id string) json.RawMessage {
	t.Helper()
	resp := e.Do(t, b.AccessToken, `mutation($id: ID!){ beginPaymentAuthorization(input:{paymentId:$id}) { options userErrors { code } } }`, map[string]any{"id": id})
	var raw struct {
		BeginPaymentAuthorization struct {
			Options    json.RawMessage
			UserErrors []userError
		}
	}
	resp.Decode(t, &raw)
	if len(raw.BeginPaymentAuthorization.UserErrors) > 0 {
		t.Fatalf("begin: %+v", raw)
	}
	return raw.BeginPaymentAuthorization.Options
}

// TestEscrowRace: 100 concurrent confirmReceipt, requestRefund and
// cancelPayment on one shipped payment whose auto-confirm deadline has
// passed, with the scheduler firing at once: exactly one wins, and money
// moves once.
func TestEscrowRace(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)
		id := e.pay(t, b, seller, "100.00")
		e.ship(t, seller, id)
		e.clock.Advance(241 * time.Hour)
		ledgerBefore := ledgerCount(t, e.Env)

		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := map[string]int{}
		codes := map[string]int{}
		start := make(chan struct{}) // all contenders go at once
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				var r result
				op := []string{"confirm", "refund", "cancel"}[i%3]
				switch op {
				case "confirm":
					r = e.confirm(t, b.User, id)
				case "refund":
					r = e.refund(t, b.User, id, "100.00")
				default:
					r = e.cancel(t, b.User, id)
				}
				mu.Lock()
				defer mu.Unlock()
				if r.code() == "" {
					wins[op]++
				} else {
					codes[r.code()]++
				}
			}(i)
		}
		for i := 0; i < 3; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if i > 0 {
					time.Sleep(time.Duration(i) * 5 * time.Millisecond)
				}
				n, err := e.App.Escrow.RunDue(context.Background(), 100)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				wins["scheduler"] += n
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		total := 0
		for _, n := range wins {
			total += n
		}
		if total != 1 {
			t.Fatalf("winners %v, refusals %v", wins, codes)
		}
		for c := range codes {
			if c != "INVALID_STATE" {
				t.Fatalf("unexpected refusal %s (%v)", c, codes)
			}
		}
		p := e.payment(t, b.User, id)
		moved := ledgerCount(t, e.Env) - ledgerBefore
		released, err := e.App.DB.Client.LedgerTransaction.Query().Where(ledgertransaction.Kind(escrow.EntryPaymentRelease)).Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		switch p.Status {
		case "COMPLETED":
			want(t, "one release", moved, 1)
			want(t, "released once", released, 1)
			want(t, "seller paid once", e.available(t, seller), "100.00")
		case "REFUND_REQUESTED":
			want(t, "a request moves nothing", moved, 0)
		default:
			t.Fatalf("status %s after the race (%v)", p.Status, wins)
		}
		t.Logf("%s: winner %v, refusals %v", d, wins, codes)
		verifyOK(t, e.Env)
	})
}

// TestWithdrawalLimitsAndFreeze: a withdrawal counts against the level's
// limit in its own transaction, and a frozen account cannot withdraw.
func TestWithdrawalLimitsAndFreeze(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		u, card := funded(t, e.Env, "1500.00")
		if r := withdraw(t, e.Env, u, card, "900.00", "w1"); r.code() != "" {
			t.Fatalf("withdraw: %+v", r)
		}
		e.App.Bank.Drain() // the payout's callback
		var lim struct {
			Me struct {
				Limits struct {
					BalancePayments []struct{ Used, Remaining, Currency string }
				}
			}
		}
		e.Do(t, u.AccessToken, `{ me { limits { balancePayments { used remaining currency } } } }`, nil).Decode(t, &lim)
		want(t, "limits after the withdrawal", lim.Me.Limits.BalancePayments[0].Used+" "+lim.Me.Limits.BalancePayments[0].Remaining, "900.00 100.00")
		before := ledgerCount(t, e.Env)
		r := withdraw(t, e.Env, u, card, "100.01", "w2")
		want(t, "over the level I limit", r.code(), "LIMIT_EXCEEDED")
		want(t, "which limit", r.UserErrors[0].Extensions["limit"], "LIFETIME_BALANCE_PAYMENTS")
		want(t, "what remains", r.UserErrors[0].Extensions["remaining"], "100.00")
		want(t, "nothing moved", ledgerCount(t, e.Env), before)

		op := e.Operator(t)
		var out struct {
			FreezeAccount struct{ UserErrors []userError }
		}
		e.Do(t, op.AccessToken, `mutation($id: ID!){ freezeAccount(input:{userId:$id, frozen:true, reason:"cashing out credit cards"}) { userErrors { code } } }`,
			map[string]any{"id": u.ID}).Decode(t, &out)
		want(t, "frozen", r.code() != "" && len(out.FreezeAccount.UserErrors) == 0, true)
		want(t, "frozen account withdraws", withdraw(t, e.Env, u, card, "10.00", "w3").code(), "ACCOUNT_FROZEN")
		want(t, "nothing moved", ledgerCount(t, e.Env), before)
		verifyOK(t, e.Env)
	})
}
