package app_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"danbao/internal/testenv"
)

// defaultRisk puts risk's burst thresholds back to their defaults over
// quietRisk.
var defaultRisk = []testenv.Option{
	testenv.With("DANBAO_RISK_BURST_MINUTE", "3"), testenv.With("DANBAO_RISK_BURST_MINUTE_HOLD", "10"),
	testenv.With("DANBAO_RISK_BURST_HOUR", "20"), testenv.With("DANBAO_RISK_BURST_HOUR_HOLD", "60"),
}

type riskView struct {
	Decision string
	Reasons  []string
}

type passwordFreeView struct {
	Enabled                                                         bool
	PerPaymentLimit, DailyLimit, Maximum, Used, Remaining, Currency string
}

const passwordFreeFields = `enabled perPaymentLimit dailyLimit maximum used remaining currency resetsAt`

func setPasswordFree(t *testing.T, e *testenv.Env, u *testenv.User, enabled bool, perPayment, daily string) (*passwordFreeView, []userError) {
	t.Helper()
	in := map[string]any{"enabled": enabled}
	if perPayment != "" {
		in["perPaymentLimit"] = perPayment
	}
	if daily != "" {
		in["dailyLimit"] = daily
	}
	var out struct {
		SetPasswordFreeAllowance struct {
			PasswordFreeAllowance *passwordFreeView
			UserErrors            []userError
		}
	}
	e.Do(t, u.AccessToken, `mutation($in: SetPasswordFreeAllowanceInput!){ setPasswordFreeAllowance(input:$in) {
		passwordFreeAllowance { `+passwordFreeFields+` } userErrors { code field extensions } } }`, map[string]any{"in": in}).Decode(t, &out)
	return out.SetPasswordFreeAllowance.PasswordFreeAllowance, out.SetPasswordFreeAllowance.UserErrors
}

func mePasswordFree(t *testing.T, e *testenv.Env, u *testenv.User) passwordFreeView {
	t.Helper()
	var out struct {
		Me struct {
			Limits struct{ PasswordFree passwordFreeView }
		}
	}
	e.Do(t, u.AccessToken, `{ me { limits { passwordFree { `+passwordFreeFields+` } } } }`, nil).Decode(t, &out)
	return out.Me.Limits.PasswordFree
}

func paymentRisk(t *testing.T, e *testenv.Env, u *testenv.User, id string) (string, *riskView) {
	t.Helper()
	var out struct {
		Node struct {
			Status string
			Risk   *riskView
		}
	}
	e.Do(t, u.AccessToken, `query($id: ID!){ node(id:$id) { ... on Payment { status risk { decision reasons } } } }`,
		map[string]any{"id": id}).Decode(t, &out)
	return out.Node.Status, out.Node.Risk
}

type heldView struct {
	ID, Kind, Status, Amount, Currency string
	Reasons                            []string
	Payment                            *struct{ ID, Status string }
	Withdrawal                         *struct{ ID, Status string }
}

const heldFields = `id kind status amount currency reasons payment { id status } withdrawal { id status }`

func heldItems(t *testing.T, e *testenv.Env, op *testenv.User) []heldView {
	t.Helper()
	var out struct {
		HeldItems struct{ Edges []struct{ Node heldView } }
	}
	e.Do(t, op.AccessToken, `{ heldItems(first: 50) { edges { node { `+heldFields+` } } } }`, nil).Decode(t, &out)
	var items []heldView
	for _, ed := range out.HeldItems.Edges {
		items = append(items, ed.Node)
	}
	return items
}

type decideResult struct {
	HeldItem   *heldView
	Payment    *struct{ ID, Status string }
	Withdrawal *struct{ ID, Status string }
	UserErrors []userError
	Replay     bool
}

func decideHeld(t *testing.T, e *testenv.Env, op *testenv.User, mutation, id, key string) decideResult {
	t.Helper()
	resp := e.Do(t, op.AccessToken, fmt.Sprintf(`mutation($in: DecideHeldInput!){ r: %s(input:$in) {
		heldItem { %s } payment { id status } withdrawal { id status } userErrors { code field extensions } } }`, mutation, heldFields),
		map[string]any{"in": map[string]any{"id": id, "note": "checked with the buyer", "idempotencyKey": key}})
	var out struct{ R decideResult }
	resp.Decode(t, &out)
	out.R.Replay = resp.Extensions["idempotentReplay"] == true
	return out.R
}

// passwordFreePay authorizes a payment without a credential.
func (e *escrowEnv) passwordFreePay(t *testing.T, b buyer, id, key string) result {
	t.Helper()
	return e.mutate(t, b.User, "authorizePayment", "AuthorizePaymentInput", map[string]any{"paymentId": id, "idempotencyKey": key})
}

func wantReasons(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: reasons %v, want %v", what, got, want)
	}
}

// TestRiskStepUpHoldAndReview: a burst of payments from a newly
// registered passkey. Without a passkey, risk asks for one (step-up:
// NEW_PASSKEY, NEW_COUNTERPARTY); with it the first payments go through
// with their reasons recorded; the fourth within a minute is held
// (BURST_MINUTE with a new passkey: TAKEOVER_PATTERN), its money in
// escrow. The operator sees it in heldItems with its reasons and approves
// it: it proceeds to PAID. The next one held is rejected: the money goes
// back to the buyer and the ledger verifies clean. On both engines.
func TestRiskStepUpHoldAndReview(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d, defaultRisk...)
		b := e.buyer(t, "1000.00")
		seller := e.RegisterVerified(t)
		op := e.Operator(t)
		if pf, ues := setPasswordFree(t, e.Env, b.User, true, "50.00", "200.00"); len(ues) != 0 || !pf.Enabled || pf.Remaining != "200.00" {
			t.Fatalf("setPasswordFreeAllowance: %+v %+v", pf, ues)
		}

		// Step-up: a small payment within the allowance still needs the
		// passkey, because the passkey is new and so is the seller.
		c := e.create(t, b, seller, "10.00", "p1")
		r := e.passwordFreePay(t, b, c.Payment.ID, "a1-free")
		if r.code() != "PASSKEY_REQUIRED" || r.UserErrors[0].Extensions["reason"] != "RISK" {
			t.Fatalf("password-free payment from a new passkey: %+v", r)
		}
		wantReasons(t, "step-up", toStrings(r.UserErrors[0].Extensions["reasons"]), "NEW_COUNTERPARTY", "NEW_PASSKEY")
		if got := e.available(t, b.User); got != "1000.00" {
			t.Fatalf("refused step-up moved money: available %s", got)
		}
		ids := []string{}
		for i := 1; i <= 3; i++ {
			if i > 1 {
				c = e.create(t, b, seller, "10.00", fmt.Sprintf("p%d", i))
			} else {
				c.Options = e.beginAuth(t, b, c.Payment.ID)
			}
			a := e.authorize(t, b, c.Payment.ID, c.Options, fmt.Sprintf("a%d", i))
			if a.code() != "" || a.Payment.Status != "PAID" {
				t.Fatalf("payment %d with the passkey: %+v", i, a)
			}
			ids = append(ids, c.Payment.ID)
		}
		status, rv := paymentRisk(t, e.Env, b.User, ids[0])
		if status != "PAID" || rv == nil || rv.Decision != "STEP_UP" {
			t.Fatalf("first payment: %s %+v", status, rv)
		}
		wantReasons(t, "first payment", rv.Reasons, "NEW_COUNTERPARTY", "NEW_PASSKEY")
		if _, sv := paymentRisk(t, e.Env, seller, ids[0]); sv != nil {
			t.Fatalf("the seller sees the buyer's risk assessment: %+v", sv)
		}

		// The fourth within a minute from a new passkey is held.
		held := e.create(t, b, seller, "10.00", "p4")
		a := e.authorize(t, b, held.Payment.ID, held.Options, "a4")
		if a.code() != "" || a.Payment.Status != "HELD" || a.Payment.HeldAmount != "10.00" {
			t.Fatalf("burst payment: %+v", a)
		}
		_, rv = paymentRisk(t, e.Env, op, held.Payment.ID)
		if rv == nil || rv.Decision != "HOLD" {
			t.Fatalf("held payment risk: %+v", rv)
		}
		wantReasons(t, "held", rv.Reasons, "BURST_MINUTE", "NEW_PASSKEY", "TAKEOVER_PATTERN")
		if got := e.available(t, b.User); got != "960.00" {
			t.Fatalf("available %s while held, want 960.00 (the held amount is in escrow)", got)
		}
		if got := e.runDue(t); got != 0 {
			t.Fatalf("the scheduler moved %d payments; a held one has no deadline", got)
		}

		// Only operators see the queue.
		if resp := e.Do(t, b.AccessToken, `{ heldItems { edges { node { id } } } }`, nil); !slices.Contains(resp.Codes(), "FORBIDDEN") {
			t.Fatalf("a user reads heldItems: %v", resp.Codes())
		}
		items := heldItems(t, e.Env, op)
		if len(items) != 1 || items[0].Kind != "PAYMENT" || items[0].Status != "HELD" || items[0].Amount != "10.00" ||
			items[0].Payment == nil || items[0].Payment.ID != held.Payment.ID || items[0].Withdrawal != nil {
			t.Fatalf("heldItems: %+v", items)
		}
		wantReasons(t, "heldItems", items[0].Reasons, "BURST_MINUTE", "NEW_PASSKEY", "TAKEOVER_PATTERN")

		// Approve: it proceeds to PAID; a replay says so, a second
		// decision is INVALID_STATE.
		ok := decideHeld(t, e.Env, op, "approveHeld", items[0].ID, "approve-1")
		if len(ok.UserErrors) != 0 || ok.HeldItem.Status != "APPROVED" || ok.Payment == nil || ok.Payment.Status != "PAID" {
			t.Fatalf("approveHeld: %+v", ok)
		}
		if again := decideHeld(t, e.Env, op, "approveHeld", items[0].ID, "approve-1"); !again.Replay || again.Payment.Status != "PAID" {
			t.Fatalf("approveHeld replay: %+v", again)
		}
		if twice := decideHeld(t, e.Env, op, "rejectHeld", items[0].ID, "reject-late"); len(twice.UserErrors) != 1 ||
			twice.UserErrors[0].Code != "INVALID_STATE" || twice.UserErrors[0].Extensions["status"] != "APPROVED" {
			t.Fatalf("rejecting an approved item: %+v", twice)
		}
		if p := e.payment(t, b.User, held.Payment.ID); p.Status != "PAID" || p.Deadlines.ShipBy == nil {
			t.Fatalf("approved payment: %+v", p)
		}
		if len(heldItems(t, e.Env, op)) != 0 {
			t.Fatal("the approved item is still in the queue")
		}

		// Reject the next held one: the money goes back to the buyer.
		next := e.create(t, b, seller, "25.00", "p5")
		if a := e.authorize(t, b, next.Payment.ID, next.Options, "a5"); a.code() != "" || a.Payment.Status != "HELD" {
			t.Fatalf("fifth burst payment: %+v", a)
		}
		items = heldItems(t, e.Env, op)
		if len(items) != 1 {
			t.Fatalf("heldItems: %+v", items)
		}
		no := decideHeld(t, e.Env, op, "rejectHeld", items[0].ID, "reject-1")
		if len(no.UserErrors) != 0 || no.HeldItem.Status != "REJECTED" || no.Payment == nil || no.Payment.Status != "REFUNDED" {
			t.Fatalf("rejectHeld: %+v", no)
		}
		if got := e.available(t, b.User); got != "960.00" {
			t.Fatalf("available %s after the rejection, want 960.00", got)
		}
		if p := e.payment(t, b.User, next.Payment.ID); p.RefundedAmount != "25.00" || p.HeldAmount != "0.00" {
			t.Fatalf("rejected payment: %+v", p)
		}
		if nf := decideHeld(t, e.Env, op, "approveHeld", "hld_01J00000000000000000000000", "nf"); len(nf.UserErrors) != 1 || nf.UserErrors[0].Code != "NOT_FOUND" {
			t.Fatalf("unknown held item: %+v", nf)
		}
		verifyOK(t, e.Env)
	})
}

// backdate moves the creation of row id of table two days back, as if it
// had been made then.
func backdate(t *testing.T, e *testenv.Env, d testenv.Dialect, table, id string) {
	t.Helper()
	q := "UPDATE " + table + " SET created_at = ? WHERE id = ?"
	if d == testenv.Postgres {
		q = "UPDATE " + table + " SET created_at = $1 WHERE id = $2"
	}
	if _, err := e.App.DB.SQL.Exec(q, time.Now().UTC().Add(-48*time.Hour), id); err != nil {
		t.Fatal(err)
	}
}

// passkeyID returns the ID of b's passkey.
func (b buyer) passkeyID(t *testing.T, e *escrowEnv) string {
	t.Helper()
	var out struct {
		Me struct {
			Passkeys struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
	}
	e.Do(t, b.AccessToken, `{ me { passkeys { edges { node { id } } } } }`, nil).Decode(t, &out)
	if len(out.Me.Passkeys.Edges) != 1 {
		t.Fatalf("passkeys: %+v", out)
	}
	return out.Me.Passkeys.Edges[0].Node.ID
}

func toStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

// withdrawWith runs withdraw with an explicit credential (nil: none).
func withdrawWith(t *testing.T, e *testenv.Env, u *testenv.User, card, amount, key string, cred json.RawMessage) opResult {
	t.Helper()
	in := map[string]any{"bankCardId": card, "amount": amount, "idempotencyKey": key}
	if cred != nil {
		in["credential"] = cred
	}
	return moneyOp(t, e, u.AccessToken, withdrawMutation, "withdraw", in)
}

// TestWithdrawalAuthorization: a withdrawal without a passkey is refused
// (PASSKEY_REQUIRED) outside the password-free allowance and goes through
// within it; one with a passkey must answer a challenge bound to its card,
// amount and currency, once. Refusals move nothing. A burst from a new
// passkey is held: approved it goes to the bank, rejected its money comes
// back. On both engines.
func TestWithdrawalAuthorization(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d, defaultRisk...)
		u, card := funded(t, e.Env, "500.00")

		wantRefused := func(what string, r opResult, reason string) {
			t.Helper()
			if r.code() != "PASSKEY_REQUIRED" || r.UserErrors[0].Extensions["reason"] != reason ||
				r.UserErrors[0].Extensions["limit"] != "PASSWORD_FREE_ALLOWANCE" {
				t.Fatalf("%s: %+v, want PASSKEY_REQUIRED %s", what, r, reason)
			}
		}
		wantRefused("no passkey, allowance off", withdrawWith(t, e.Env, u, card, "20.00", "w-off", nil), "ALLOWANCE_OFF")
		if b := balances(t, e.Env, u); b.Available != "500.00" || b.Held != "0.00" {
			t.Fatalf("a refused withdrawal moved money: %+v", b)
		}

		if _, ues := setPasswordFree(t, e.Env, u, true, "50.00", "1000.01"); len(ues) != 1 || ues[0].Code != "INVALID_INPUT" ||
			!slices.Equal(ues[0].Field, []string{"input", "dailyLimit"}) || ues[0].Extensions["maximum"] != "1000.00" {
			t.Fatalf("a daily cap above 1,000 CNY: %+v", ues)
		}
		if pf, ues := setPasswordFree(t, e.Env, u, true, "50.00", "100.00"); len(ues) != 0 || pf.DailyLimit != "100.00" || pf.Maximum != "1000.00" {
			t.Fatalf("setPasswordFreeAllowance: %+v %+v", pf, ues)
		}
		w := withdrawWith(t, e.Env, u, card, "20.00", "w-free", nil)
		if w.code() != "" || w.Status != "PENDING" {
			t.Fatalf("withdrawal within the allowance: %+v", w)
		}
		wantRefused("over the per-payment cap", withdrawWith(t, e.Env, u, card, "50.01", "w-big", nil), "ALLOWANCE_PER_PAYMENT")
		if pf := mePasswordFree(t, e.Env, u); pf.Used != "20.00" || pf.Remaining != "80.00" || !pf.Enabled {
			t.Fatalf("me.limits.passwordFree: %+v", pf)
		}
		if r := withdrawWith(t, e.Env, u, card, "1.00", "w-small", nil); r.code() != "" {
			t.Fatalf("small withdrawal: %+v", r)
		}

		// With a passkey: bound to card, amount and currency, used once.
		cred := withdrawalCredential(t, e.Env, u, card, "60.00", "CNY")
		if r := withdrawWith(t, e.Env, u, card, "60.01", "w-changed", cred); r.code() != "PASSKEY_INVALID" {
			t.Fatalf("an assertion for 60.00 used for 60.01: %+v", r)
		}
		if r := withdrawWith(t, e.Env, u, card, "60.00", "w-spent", cred); r.code() != "PASSKEY_INVALID" {
			t.Fatalf("an assertion spent by a refused withdrawal, replayed: %+v", r)
		}
		cred = withdrawalCredential(t, e.Env, u, card, "60.00", "CNY")
		if r := withdrawWith(t, e.Env, u, card, "60.00", "w-pk", cred); r.code() != "" || r.Status != "PENDING" {
			t.Fatalf("withdrawal with a passkey: %+v", r)
		}
		if r := withdrawWith(t, e.Env, u, card, "60.00", "w-pk", cred); r.code() != "" || !r.replay {
			t.Fatalf("same key, same input: %+v, want a replay", r)
		}
		if r := withdrawWith(t, e.Env, u, card, "60.00", "w-pk-2", cred); r.code() != "PASSKEY_INVALID" {
			t.Fatalf("a used assertion replayed under another key: %+v", r)
		}

		// A fourth withdrawal within the minute from a passkey registered
		// today is held: its amount set aside, nothing sent to the bank.
		op := e.Operator(t)
		held := withdrawWith(t, e.Env, u, card, "10.00", "w-held", withdrawalCredential(t, e.Env, u, card, "10.00", "CNY"))
		if held.code() != "" || held.Status != "HELD" {
			t.Fatalf("burst withdrawal: %+v", held)
		}
		e.App.Bank.Drain()
		if s := nodeStatus(t, e.Env, u, held.ID); s != "HELD" {
			t.Fatalf("held withdrawal went to the bank: %s", s)
		}
		items := heldItems(t, e.Env, op)
		if len(items) != 1 || items[0].Kind != "WITHDRAWAL" || items[0].Withdrawal == nil || items[0].Withdrawal.ID != held.ID || items[0].Amount != "10.00" {
			t.Fatalf("heldItems: %+v", items)
		}
		wantReasons(t, "held withdrawal", items[0].Reasons, "BURST_MINUTE", "NEW_PASSKEY", "TAKEOVER_PATTERN")
		if ok := decideHeld(t, e.Env, op, "approveHeld", items[0].ID, "approve-w"); len(ok.UserErrors) != 0 ||
			ok.Withdrawal == nil || ok.Withdrawal.Status != "PENDING" {
			t.Fatalf("approveHeld: %+v", ok)
		}
		e.App.Bank.Drain()
		if s := nodeStatus(t, e.Env, u, held.ID); s != "SUCCEEDED" {
			t.Fatalf("approved withdrawal is %s, want SUCCEEDED (paid out)", s)
		}
		rej := withdrawWith(t, e.Env, u, card, "15.00", "w-held-2", withdrawalCredential(t, e.Env, u, card, "15.00", "CNY"))
		if rej.Status != "HELD" {
			t.Fatalf("fifth withdrawal: %+v", rej)
		}
		items = heldItems(t, e.Env, op)
		if no := decideHeld(t, e.Env, op, "rejectHeld", items[0].ID, "reject-w"); len(no.UserErrors) != 0 ||
			no.Withdrawal == nil || no.Withdrawal.Status != "FAILED" {
			t.Fatalf("rejectHeld: %+v", no)
		}

		// As in the README: turned on with the default caps, a first small
		// withdrawal to a newly linked card needs no passkey.
		v, vcard := funded(t, e.Env, "100.00")
		if pf, ues := setPasswordFree(t, e.Env, v, true, "", ""); len(ues) != 0 || pf.PerPaymentLimit != "200.00" || pf.DailyLimit != "1000.00" {
			t.Fatalf("setPasswordFreeAllowance with the defaults: %+v %+v", pf, ues)
		}
		if r := withdrawWith(t, e.Env, v, vcard, "30.00", "w-1", nil); r.code() != "" || r.Status != "PENDING" {
			t.Fatalf("the README's withdrawal: %+v", r)
		}

		// Turned off, nothing goes without a passkey.
		if pf, ues := setPasswordFree(t, e.Env, u, false, "", ""); len(ues) != 0 || pf.Enabled || pf.Remaining != "0.00" {
			t.Fatalf("turning the allowance off: %+v %+v", pf, ues)
		}
		wantRefused("allowance off again", withdrawWith(t, e.Env, u, card, "5.00", "w-off-2", nil), "ALLOWANCE_OFF")
		if b := balances(t, e.Env, u); b.Available != "409.00" {
			t.Fatalf("available %s, want 409.00 (the rejected 15.00 back)", b.Available)
		}
		verifyOK(t, e.Env)
	})
}

// TestPasswordFreeDailyCapUnderConcurrency: 50 small payments without a
// passkey at once against a 500.00 daily allowance: exactly 25 of 20.00
// pass, the rest are PASSKEY_REQUIRED (ALLOWANCE_DAILY), and the day's
// password-free use is 500.00, on SQLite and PostgreSQL.
func TestPasswordFreeDailyCapUnderConcurrency(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d) // quiet risk: the burst is the point here
		b := e.buyer(t, "1000.00")
		seller := e.RegisterVerified(t)
		// The passkey was registered two days ago, and the seller was
		// paid before.
		backdate(t, e.Env, d, "passkeys", b.passkeyID(t, e))
		e.pay(t, b, seller, "10.00")
		if _, ues := setPasswordFree(t, e.Env, b.User, true, "20.00", "500.00"); len(ues) != 0 {
			t.Fatalf("setPasswordFreeAllowance: %+v", ues)
		}
		const n, fit = 50, 25
		ids := make([]string, n)
		for i := range n {
			c := e.create(t, b, seller, "20.00", fmt.Sprintf("pf-%d", i))
			if c.code() != "" {
				t.Fatalf("createPayment: %+v", c)
			}
			ids[i] = c.Payment.ID
		}
		codes := make([]string, n)
		reasons := make([]any, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := e.passwordFreePay(t, b, ids[i], "pfa-"+ids[i])
				codes[i] = r.code()
				if len(r.UserErrors) > 0 {
					reasons[i] = r.UserErrors[0].Extensions["reason"]
				}
			})
		}
		wg.Wait()
		ok := 0
		for i, c := range codes {
			switch {
			case c == "":
				ok++
			case c == "PASSKEY_REQUIRED" && reasons[i] == "ALLOWANCE_DAILY":
			default:
				t.Fatalf("payment %d: %s %v", i, c, reasons[i])
			}
		}
		if ok != fit {
			t.Fatalf("%d password-free payments passed, want %d", ok, fit)
		}
		if pf := mePasswordFree(t, e.Env, b.User); pf.Used != "500.00" || pf.Remaining != "0.00" {
			t.Fatalf("me.limits.passwordFree: %+v", pf)
		}
		if got := e.available(t, b.User); got != "490.00" {
			t.Fatalf("available %s, want 490.00", got)
		}
		verifyOK(t, e.Env)
	})
}

// TestBurstRulesOffAreLogged: a burst threshold of 0 turns its rule off,
// and the server says which at start; with thresholds set it says nothing.
func TestBurstRulesOffAreLogged(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_RISK_BURST_MINUTE_HOLD", "0"))
	logs := e.Logs()
	if !strings.Contains(logs, "DANBAO_RISK_BURST_MINUTE_HOLD") || strings.Contains(logs, "DANBAO_RISK_BURST_HOUR_HOLD") {
		t.Fatalf("one rule off: the start's log names %q", logs)
	}
	if logs := testenv.New(t, testenv.SQLite, defaultRisk...).Logs(); strings.Contains(logs, "DANBAO_RISK_BURST") {
		t.Fatalf("no rule off, yet the log names one: %q", logs)
	}
}
