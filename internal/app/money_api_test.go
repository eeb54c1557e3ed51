package app_test

import (
	"context"
	"danbao/ent/schema/pulid"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/event"
	"danbao/ent/topup"
	"danbao/internal/bank"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

const (
	cardOK      = "4242 4242 4242 4242"
	cardDecline = "4000000000000002"
	cardPending = "4000000000000259"
)

type payload struct {
	UserErrors []struct {
		Code       string
		Field      []string
		Extensions map[string]any
	}
}

func (p payload) code() string {
	if len(p.UserErrors) == 0 {
		return ""
	}
	return p.UserErrors[0].Code
}

func linkCard(t testing.TB, e *testenv.Env, u *testenv.User, number string) string {
	t.Helper()
	var out struct {
		LinkBankCard struct {
			BankCard struct{ ID, Last4, Brand string }
			payload
		}
	}
	e.Do(t, u.AccessToken, `mutation($n:String!){ linkBankCard(input:{cardNumber:$n, holderName:"LI LEI"}) { bankCard { id last4 brand } userErrors { code field } } }`,
		map[string]any{"n": number}).Decode(t, &out)
	if c := out.LinkBankCard.code(); c != "" {
		t.Fatalf("linkBankCard: %s", c)
	}
	return out.LinkBankCard.BankCard.ID
}

type opResult struct {
	ID, Status, Amount string
	payload
	replay bool
}

const topUpMutation = `mutation($in: TopUpInput!){ topUp(input:$in) { topUp { id status amount } userErrors { code field extensions } } }`
const withdrawMutation = `mutation($in: WithdrawInput!){ withdraw(input:$in) { withdrawal { id status amount } userErrors { code field extensions } } }`

func moneyOp(t testing.TB, e *testenv.Env, token, mutation, field string, in map[string]any) opResult {
	t.Helper()
	r := e.Do(t, token, mutation, map[string]any{"in": in})
	var out map[string]struct {
		TopUp, Withdrawal *struct{ ID, Status, Amount string }
		payload
	}
	r.Decode(t, &out)
	p := out[field]
	res := opResult{payload: p.payload, replay: r.Extensions["idempotentReplay"] == true}
	if obj := p.TopUp; obj != nil {
		res.ID, res.Status, res.Amount = obj.ID, obj.Status, obj.Amount
	}
	if obj := p.Withdrawal; obj != nil {
		res.ID, res.Status, res.Amount = obj.ID, obj.Status, obj.Amount
	}
	return res
}

func topUp(t testing.TB, e *testenv.Env, u *testenv.User, card, amount, key string) opResult {
	t.Helper()
	return moneyOp(t, e, u.AccessToken, topUpMutation, "topUp", map[string]any{"bankCardId": card, "amount": amount, "idempotencyKey": key})
}

// withdraw makes a withdrawal authorized with a passkey, as every
// withdrawal outside the password-free allowance must be: the user's
// test passkey (registered on first use) answers a challenge bound to
// this card, amount and currency.
func withdraw(t testing.TB, e *testenv.Env, u *testenv.User, card, amount, key string) opResult {
	t.Helper()
	in := map[string]any{"bankCardId": card, "amount": amount, "idempotencyKey": key}
	if cred := withdrawalCredential(t, e, u, card, amount, "CNY"); cred != nil {
		in["credential"] = cred
	}
	return moneyOp(t, e, u.AccessToken, withdrawMutation, "withdraw", in)
}

// withdrawers are the test authenticators of users who withdraw, by
// environment and user.
var withdrawers = struct {
	sync.Mutex
	m map[string]*softauthn.Authenticator
}{m: map[string]*softauthn.Authenticator{}}

// withdrawer returns u's withdrawal authenticator, registering a passkey
// for it on first use.
func withdrawer(t testing.TB, e *testenv.Env, u *testenv.User) *softauthn.Authenticator {
	t.Helper()
	withdrawers.Lock()
	defer withdrawers.Unlock()
	key := fmt.Sprintf("%p/%s", e, u.ID)
	if a, ok := withdrawers.m[key]; ok {
		return a
	}
	a := e.Authenticator()
	e.AddPasskey(t, u, a)
	withdrawers.m[key] = a
	return a
}

const beginWithdrawalMutation = `mutation($in: BeginWithdrawalAuthorizationInput!){ beginWithdrawalAuthorization(input:$in) { options userErrors { code field } } }`

// withdrawalCredential answers a withdrawal challenge for card, amount and
// currency with u's test passkey (nil when the challenge is refused, e.g.
// for a malformed amount: the withdrawal then gets its own refusal). The
// assertion carries signature counter 0, as an authenticator without a
// counter, so that concurrent withdrawals never look like a clone.
func withdrawalCredential(t testing.TB, e *testenv.Env, u *testenv.User, card, amount, currency string) json.RawMessage {
	t.Helper()
	a := withdrawer(t, e, u)
	var out struct {
		BeginWithdrawalAuthorization struct {
			Options    json.RawMessage
			UserErrors []struct{ Code, Field string }
		}
	}
	e.Do(t, u.AccessToken, beginWithdrawalMutation, map[string]any{"in": map[string]any{
		"bankCardId": card, "amount": amount, "currency": currency}}).Decode(t, &out)
	if len(out.BeginWithdrawalAuthorization.UserErrors) > 0 {
		return nil
	}
	zero := uint32(0)
	cred, err := a.Assert(out.BeginWithdrawalAuthorization.Options, softauthn.AssertOptions{SignCount: &zero})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

type balanceView struct{ Currency, Available, Held string }

func balances(t *testing.T, e *testenv.Env, u *testenv.User) balanceView {
	t.Helper()
	var out struct {
		Me struct{ Balances []balanceView }
	}
	e.Do(t, u.AccessToken, `{ me { balances { currency available held } } }`, nil).Decode(t, &out)
	return out.Me.Balances[0]
}

func nodeStatus(t *testing.T, e *testenv.Env, u *testenv.User, id string) string {
	t.Helper()
	var out struct {
		Node struct{ TopUpStatus, WithdrawalStatus string }
	}
	e.Do(t, u.AccessToken, `query($id: ID!){ node(id:$id) { ... on TopUp { topUpStatus: status } ... on Withdrawal { withdrawalStatus: status } } }`, map[string]any{"id": id}).Decode(t, &out)
	return out.Node.TopUpStatus + out.Node.WithdrawalStatus
}

func ledgerCount(t *testing.T, e *testenv.Env) int {
	t.Helper()
	n, err := e.App.DB.Client.LedgerTransaction.Query().Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func verifyOK(t *testing.T, e *testenv.Env) {
	t.Helper()
	r, err := e.App.Ledger.Verify(context.Background())
	if err != nil || !r.OK() {
		t.Fatalf("verify: %v %+v", err, r)
	}
}

// funded registers a user, links the always-succeeding card and tops up.
func funded(t *testing.T, e *testenv.Env, amount string) (*testenv.User, string) {
	u := e.RegisterVerified(t)
	card := linkCard(t, e, u, cardOK)
	if r := topUp(t, e, u, card, amount, "fund-"+u.ID); r.code() != "" {
		t.Fatalf("top-up: %s", r.code())
	}
	e.App.Bank.Drain()
	return u, card
}

func TestTopUpAndWithdrawFlow(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.RegisterVerified(t)
		card := linkCard(t, e, u, cardOK)
		r := topUp(t, e, u, card, "100.00", "k1")
		if r.Status != "PENDING" || r.Amount != "100.00" {
			t.Fatalf("top-up %+v", r)
		}
		e.App.Bank.Drain()
		if s := nodeStatus(t, e, u, r.ID); s != "SUCCEEDED" {
			t.Fatalf("top-up is %s", s)
		}
		if b := balances(t, e, u); b.Available != "100.00" || b.Held != "0.00" || b.Currency != "CNY" {
			t.Fatalf("balance %+v", b)
		}
		// Each state change wrote its event, in sequence order.
		evs, err := e.App.DB.Client.Event.Query().Where(event.UserID(pulidOf(u.ID))).Order(ent.Asc(event.FieldSeq)).All(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for i, ev := range evs {
			types = append(types, ev.Type)
			if i > 0 && ev.Seq <= evs[i-1].Seq {
				t.Fatalf("event seq not increasing: %d after %d", ev.Seq, evs[i-1].Seq)
			}
		}
		if got := strings.Join(types, ","); got != "topup.created,topup.succeeded,balance.changed" {
			t.Fatalf("events %s", got)
		}
		if evs[1].SubjectID != pulidOf(r.ID) || evs[1].Payload["amount"] != "100.00" {
			t.Fatalf("succeeded event %+v", evs[1])
		}
		w := withdraw(t, e, u, card, "30.50", "w1")
		if w.Status != "PENDING" {
			t.Fatalf("withdrawal %+v", w)
		}
		// Held at once; paid out when the bank answers.
		e.App.Bank.Drain()
		if s := nodeStatus(t, e, u, w.ID); s != "SUCCEEDED" {
			t.Fatalf("withdrawal is %s", s)
		}
		if b := balances(t, e, u); b.Available != "69.50" || b.Held != "0.00" {
			t.Fatalf("balance after withdrawal %+v", b)
		}
		var hist struct {
			Me struct {
				Transactions struct {
					Edges []struct {
						Node struct {
							Type, Direction, Amount, BalanceAfter string
							Counterparty                          *string
							TopUp, Withdrawal                     *struct{ ID string }
						}
					}
				}
			}
		}
		e.Do(t, u.AccessToken, `{ me { transactions(first: 10) { edges { node { type direction amount balanceAfter counterparty topUp { id } withdrawal { id } } } } } }`, nil).Decode(t, &hist)
		edges := hist.Me.Transactions.Edges
		if len(edges) != 2 {
			t.Fatalf("%d history entries", len(edges))
		}
		wn, tn := edges[0].Node, edges[1].Node
		if wn.Type != "WITHDRAWAL" || wn.Direction != "DEBIT" || wn.Amount != "30.50" || wn.BalanceAfter != "69.50" || wn.Withdrawal == nil || wn.Withdrawal.ID != w.ID {
			t.Errorf("newest entry %+v", wn)
		}
		if tn.Type != "TOPUP" || tn.Direction != "CREDIT" || tn.Amount != "100.00" || tn.BalanceAfter != "100.00" || tn.TopUp == nil || tn.Counterparty == nil || *tn.Counterparty != "visa •••• 4242" {
			t.Errorf("oldest entry %+v", tn)
		}
		// A second currency keeps its own balance.
		usd := moneyOp(t, e, u.AccessToken, topUpMutation, "topUp", map[string]any{"bankCardId": card, "amount": "12.5", "currency": "USD", "idempotencyKey": "usd-1"})
		if usd.code() != "" || usd.Amount != "12.50" {
			t.Fatalf("USD top-up: %+v", usd)
		}
		e.App.Bank.Drain()
		var all struct {
			Me struct{ Balances []balanceView }
		}
		e.Do(t, u.AccessToken, `{ me { balances { currency available held } } }`, nil).Decode(t, &all)
		if bs := all.Me.Balances; len(bs) != 2 || bs[0] != (balanceView{"CNY", "69.50", "0.00"}) || bs[1] != (balanceView{"USD", "12.50", "0.00"}) {
			t.Fatalf("balances %+v", bs)
		}
		verifyOK(t, e)
	})
}

func TestDeclinedAndPendingCards(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		op := e.Operator(t)
		u := e.RegisterVerified(t)
		declined := linkCard(t, e, u, cardDecline)
		r := topUp(t, e, u, declined, "50", "d1")
		e.App.Bank.Drain()
		if s := nodeStatus(t, e, u, r.ID); s != "FAILED" {
			t.Fatalf("declined card top-up is %s", s)
		}
		if b := balances(t, e, u); b.Available != "0.00" {
			t.Fatalf("declined top-up moved money: %+v", b)
		}

		pending := linkCard(t, e, u, cardPending)
		r = topUp(t, e, u, pending, "70", "p1")
		e.App.Bank.Drain()
		if s := nodeStatus(t, e, u, r.ID); s != "PENDING" {
			t.Fatalf("pending card top-up is %s", s)
		}
		settle := `mutation($id: ID!, $o: BankOutcome!){ settleSandboxBankOperation(input:{id:$id, outcome:$o}) { userErrors { code } } }`
		// Only operators settle.
		if got := e.Do(t, u.AccessToken, settle, map[string]any{"id": r.ID, "o": "SUCCEEDED"}).Codes(); len(got) != 1 || got[0] != "FORBIDDEN" {
			t.Fatalf("user settling: %v", got)
		}
		var out struct{ SettleSandboxBankOperation payload }
		e.Do(t, op.AccessToken, settle, map[string]any{"id": r.ID, "o": "SUCCEEDED"}).Decode(t, &out)
		if c := out.SettleSandboxBankOperation.code(); c != "" {
			t.Fatalf("settle: %s", c)
		}
		e.App.Bank.Drain()
		if s := nodeStatus(t, e, u, r.ID); s != "SUCCEEDED" {
			t.Fatalf("settled top-up is %s", s)
		}
		// Settling again: it is no longer pending.
		e.Do(t, op.AccessToken, settle, map[string]any{"id": r.ID, "o": "FAILED"}).Decode(t, &out)
		if c := out.SettleSandboxBankOperation.code(); c != "INVALID_STATE" {
			t.Fatalf("settling a settled top-up: %q", c)
		}
		if b := balances(t, e, u); b.Available != "70.00" {
			t.Fatalf("balance %+v", b)
		}

		// A withdrawal to the pending card is held, then returned when refused.
		w := withdraw(t, e, u, pending, "20", "pw1")
		e.App.Bank.Drain()
		if b := balances(t, e, u); b.Available != "50.00" || b.Held != "20.00" {
			t.Fatalf("held withdrawal: %+v", b)
		}
		e.Do(t, op.AccessToken, settle, map[string]any{"id": w.ID, "o": "FAILED"}).Decode(t, &out)
		e.App.Bank.Drain()
		if s := nodeStatus(t, e, u, w.ID); s != "FAILED" {
			t.Fatalf("refused withdrawal is %s", s)
		}
		if b := balances(t, e, u); b.Available != "70.00" || b.Held != "0.00" {
			t.Fatalf("returned withdrawal: %+v", b)
		}
		verifyOK(t, e)
	})
}

// TestIdempotentTopUp: 50 concurrent top-ups with one key move money once;
// a later retry replays; the same key with another amount is a conflict.
func TestIdempotentTopUp(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.RegisterVerified(t)
		card := linkCard(t, e, u, cardOK)
		var wg sync.WaitGroup
		results := make([]opResult, 50)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = topUp(t, e, u, card, "10.00", "same-key")
			}()
		}
		wg.Wait()
		e.App.Bank.Drain()
		ids := map[string]bool{}
		var fresh, replays, conflicts int
		for _, r := range results {
			switch {
			case r.code() == "IDEMPOTENCY_CONFLICT":
				conflicts++
			case r.code() != "":
				t.Errorf("unexpected %s", r.code())
			case r.replay:
				replays++
				ids[r.ID] = true
			default:
				fresh++
				ids[r.ID] = true
			}
		}
		if fresh != 1 || len(ids) != 1 || fresh+replays+conflicts != 50 {
			t.Fatalf("fresh %d, replays %d, conflicts %d, distinct top-ups %d", fresh, replays, conflicts, len(ids))
		}
		n, _ := e.App.DB.Client.TopUp.Query().Where(topup.UserID(pulidOf(u.ID))).Count(context.Background())
		if n != 1 {
			t.Fatalf("%d top-ups created", n)
		}
		if b := balances(t, e, u); b.Available != "10.00" {
			t.Fatalf("money moved more than once: %+v", b)
		}
		// A later retry replays the same top-up, marked as a replay.
		r := topUp(t, e, u, card, "10.00", "same-key")
		if !r.replay || !ids[r.ID] || r.Status != "SUCCEEDED" {
			t.Fatalf("retry: %+v", r)
		}
		// The same key for another request is refused and moves nothing.
		r = topUp(t, e, u, card, "11.00", "same-key")
		if r.code() != "IDEMPOTENCY_CONFLICT" || r.UserErrors[0].Extensions["reason"] != "INPUT_MISMATCH" {
			t.Fatalf("other input, same key: %+v", r)
		}
		// Keys are scoped to the caller: another user may use the same key.
		other := e.RegisterVerified(t)
		oc := linkCard(t, e, other, cardOK)
		if r := topUp(t, e, other, oc, "10.00", "same-key"); r.code() != "" || r.replay {
			t.Fatalf("another user's key collided: %+v", r)
		}
		e.App.Bank.Drain()
		verifyOK(t, e)
	})
}

// TestConcurrentWithdrawals: 20 concurrent withdrawals of 10 from 100 give
// exactly 10 successes; the rest are INSUFFICIENT_FUNDS with the available
// and held amounts.
func TestConcurrentWithdrawals(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u, _ := funded(t, e, "100")
		t.Cleanup(func() {
			if t.Failed() {
				for _, l := range strings.Split(e.Logs(), "\n") {
					if strings.Contains(l, "level=ERROR") {
						t.Log(l)
					}
				}
			}
		})
		pending := linkCard(t, e, u, cardPending) // payouts stay held: "held" is visible
		var wg sync.WaitGroup
		results := make([]opResult, 20)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = withdraw(t, e, u, pending, "10", fmt.Sprintf("w-%d", i))
			}()
		}
		wg.Wait()
		var ok, insufficient int
		for _, r := range results {
			switch r.code() {
			case "":
				ok++
			case "INSUFFICIENT_FUNDS":
				insufficient++
				if r.ID != "" {
					t.Errorf("a refused withdrawal came back with an object: %s", r.ID)
				}
				ext := r.UserErrors[0].Extensions
				// Refused only once all 100 is held by the ten that passed:
				// held is that money, not the amount asked for.
				if ext["available"] != "0.00" || ext["held"] != "100.00" || ext["requested"] != "10.00" || ext["currency"] != "CNY" {
					t.Errorf("INSUFFICIENT_FUNDS amounts: %v", ext)
				}
			default:
				t.Errorf("unexpected %s", r.code())
			}
		}
		if ok != 10 || insufficient != 10 {
			t.Fatalf("%d successes, %d INSUFFICIENT_FUNDS", ok, insufficient)
		}
		if b := balances(t, e, u); b.Available != "0.00" || b.Held != "100.00" {
			t.Fatalf("balance %+v", b)
		}
		verifyOK(t, e)
	})
}

func TestMoneyBadInputMovesNothing(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u, card := funded(t, e, "100")
		other := e.RegisterVerified(t)
		otherCard := linkCard(t, e, other, cardOK)
		before := ledgerCount(t, e)
		for _, c := range []struct {
			name, card, amount, currency, code, field string
		}{
			{"zero", card, "0", "CNY", "INVALID_INPUT", "amount"},
			{"negative", card, "-5", "CNY", "INVALID_INPUT", "amount"},
			{"too many decimals", card, "1.234", "CNY", "INVALID_INPUT", "amount"},
			{"overflow", card, "92233720368547758.08", "CNY", "INVALID_INPUT", "amount"},
			{"beyond the maximum", card, "99999999999999999", "CNY", "INVALID_INPUT", "amount"},
			{"exponent", card, "1e3", "CNY", "INVALID_INPUT", "amount"},
			{"unknown currency", card, "1", "XXX", "INVALID_INPUT", "currency"},
			{"lower-case currency", card, "1", "cny", "INVALID_INPUT", "currency"},
			{"someone else's card", otherCard, "1", "CNY", "NOT_FOUND", "bankCardId"},
			{"no such card", "card_01J00000000000000000000000", "1", "CNY", "NOT_FOUND", "bankCardId"},
		} {
			for _, m := range []struct{ mutation, field string }{{topUpMutation, "topUp"}, {withdrawMutation, "withdraw"}} {
				r := moneyOp(t, e, u.AccessToken, m.mutation, m.field, map[string]any{"bankCardId": c.card, "amount": c.amount, "currency": c.currency, "idempotencyKey": "bad-" + strings.ReplaceAll(c.name, " ", "-")})
				if r.code() != c.code || len(r.UserErrors[0].Field) != 2 || r.UserErrors[0].Field[1] != c.field {
					t.Errorf("%s %s: %+v", m.field, c.name, r.UserErrors)
				}
			}
		}
		// A float where a Decimal belongs is refused.
		r := e.Do(t, u.AccessToken, topUpMutation, map[string]any{"in": map[string]any{"bankCardId": card, "amount": 1.5, "idempotencyKey": "float"}})
		if got := r.Codes(); len(got) != 1 || got[0] != "INVALID_INPUT" {
			t.Errorf("float amount: %v", got)
		}
		// A missing or empty idempotency key.
		if r := topUp(t, e, u, card, "1", ""); r.code() != "INVALID_INPUT" {
			t.Errorf("empty key: %+v", r)
		}
		// Bad card numbers.
		for _, n := range []string{"4242424242424241", "1234", "4242-4242-4242-424X"} {
			var out struct{ LinkBankCard payload }
			e.Do(t, u.AccessToken, `mutation($n:String!){ linkBankCard(input:{cardNumber:$n, holderName:"LI LEI"}) { userErrors { code field } } }`, map[string]any{"n": n}).Decode(t, &out)
			if out.LinkBankCard.code() != "INVALID_INPUT" {
				t.Errorf("card %q: %+v", n, out.LinkBankCard)
			}
		}
		// Signed out.
		if got := e.Do(t, "", topUpMutation, map[string]any{"in": map[string]any{"bankCardId": card, "amount": "1", "idempotencyKey": "x"}}).Codes(); len(got) != 1 || got[0] != "UNAUTHENTICATED" {
			t.Errorf("signed out: %v", got)
		}
		e.App.Bank.Drain()
		if after := ledgerCount(t, e); after != before {
			t.Fatalf("bad input moved money: %d -> %d journal transactions", before, after)
		}
		if b := balances(t, e, u); b.Available != "100.00" {
			t.Fatalf("balance %+v", b)
		}
	})
}

// TestGatewayCallbacks: forged, stale and tampered callbacks are refused;
// a replayed genuine one is applied once; a contradicting one is refused.
func TestGatewayCallbacks(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.RegisterVerified(t)
		pending := linkCard(t, e, u, cardPending)
		r := topUp(t, e, u, pending, "40", "cb1")
		e.App.Bank.Drain()
		body := []byte(fmt.Sprintf(`{"id":"cb_1","kind":"charge","reference":%q,"outcome":"SUCCEEDED","amount":4000,"currency":"CNY"}`, r.ID))
		signer := e.App.Bank.Signer
		post := func(header string, b []byte) int {
			code, _ := postCallback(e, header, b)
			return code
		}
		forger := bank.Signer{Secret: []byte("not the secret")}
		cases := []struct {
			name   string
			header string
			body   []byte
			want   int
		}{
			{"forged", forger.Header(time.Now(), body), body, 401},
			{"stale", signer.Header(time.Now().Add(-time.Hour), body), body, 401},
			{"from the future", signer.Header(time.Now().Add(time.Hour), body), body, 401},
			{"tampered body", signer.Header(time.Now(), body), []byte(strings.Replace(string(body), "SUCCEEDED", "DECLINED", 1)), 401},
			{"no signature", "", body, 400},
		}
		for _, c := range cases {
			if got := post(c.header, c.body); got != c.want {
				t.Errorf("%s: %d, want %d", c.name, got, c.want)
			}
		}
		if b := balances(t, e, u); b.Available != "0.00" {
			t.Fatalf("refused callbacks moved money: %+v", b)
		}
		// Authentic callbacks whose amount or currency is not the
		// operation's are refused (422 AMOUNT_MISMATCH), change nothing and
		// raise an alert; one without amount or currency is malformed.
		for _, c := range []struct {
			name, from, to string
			want           int
		}{
			{"partial capture", `"amount":4000`, `"amount":3999`, 422},
			{"more than asked", `"amount":4000`, `"amount":4001`, 422},
			{"wrong currency", `"currency":"CNY"`, `"currency":"USD"`, 422},
			{"no amount", `,"amount":4000`, ``, 400},
			{"no currency", `,"currency":"CNY"`, ``, 400},
		} {
			b := []byte(strings.Replace(string(body), c.from, c.to, 1))
			status, code := postCallback(e, signer.Header(time.Now(), b), b)
			wantCode := "AMOUNT_MISMATCH"
			if c.want == 400 {
				wantCode = "INVALID_INPUT"
			}
			if status != c.want || code != wantCode {
				t.Errorf("%s: %d %q, want %d %s", c.name, status, code, c.want, wantCode)
			}
		}
		if n := strings.Count(e.Logs(), `level=ERROR msg="bank callback amount mismatch"`); n != 3 {
			t.Errorf("%d amount mismatch alerts logged, want 3:\n%s", n, e.Logs())
		}
		if b := balances(t, e, u); b.Available != "0.00" {
			t.Fatalf("mismatched callbacks moved money: %+v", b)
		}
		if st := nodeStatus(t, e, u, r.ID); st != "PENDING" {
			t.Fatalf("mismatched callbacks changed the top-up: %s", st)
		}
		// The genuine callback, delivered three times, is applied once.
		h := signer.Header(time.Now(), body)
		for i := 0; i < 3; i++ {
			if got := post(h, body); got != 200 {
				t.Fatalf("genuine callback %d: %d", i, got)
			}
		}
		if b := balances(t, e, u); b.Available != "40.00" {
			t.Fatalf("replayed callback: %+v", b)
		}
		// A contradicting outcome is refused.
		declined := []byte(strings.Replace(string(body), "SUCCEEDED", "DECLINED", 1))
		if got := post(signer.Header(time.Now(), declined), declined); got != 409 {
			t.Fatalf("contradicting callback: %d", got)
		}
		unknown := []byte(`{"id":"cb_2","kind":"charge","reference":"top_01J00000000000000000000000","outcome":"SUCCEEDED","amount":4000,"currency":"CNY"}`)
		if got := post(signer.Header(time.Now(), unknown), unknown); got != 404 {
			t.Fatalf("unknown reference: %d", got)
		}
		if b := balances(t, e, u); b.Available != "40.00" {
			t.Fatalf("balance %+v", b)
		}
		verifyOK(t, e)
	})
}

func TestOperatorLedgerQueries(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		op := e.Operator(t)
		u, _ := funded(t, e, "123.45")
		q := `{ verifyLedger { ok transactions accounts violations { kind message } } }`
		if got := e.Do(t, u.AccessToken, q, nil).Codes(); len(got) != 1 || got[0] != "FORBIDDEN" {
			t.Fatalf("user verifying: %v", got)
		}
		var v struct {
			VerifyLedger struct {
				Ok           bool
				Transactions int
			}
		}
		e.Do(t, op.AccessToken, q, nil).Decode(t, &v)
		if !v.VerifyLedger.Ok || v.VerifyLedger.Transactions != 1 {
			t.Fatalf("verifyLedger %+v", v)
		}
		today := time.Now().UTC().Format(time.DateOnly)
		var rep struct {
			CustodyReport struct {
				Days []struct{ Date, Currency, CustomerFunds, Custody, Difference string }
			}
		}
		e.Do(t, op.AccessToken, `query($d:String!){ custodyReport(from:$d, to:$d) { days { date currency customerFunds custody difference } } }`,
			map[string]any{"d": today}).Decode(t, &rep)
		days := rep.CustodyReport.Days
		if len(days) != 1 || days[0].CustomerFunds != "123.45" || days[0].Custody != "123.45" || days[0].Difference != "0.00" {
			t.Fatalf("custody report %+v", days)
		}
		r := e.Do(t, op.AccessToken, `{ custodyReport(from:"2026-02-30", to:"2026-03-01") { days { date } } }`, nil)
		if got := r.Codes(); len(got) != 1 || got[0] != "INVALID_INPUT" {
			t.Fatalf("bad date: %v", got)
		}
	})
}

// TestPrivateFieldsStayPrivate: a user cannot read another user's balances,
// history, cards or operations through node(id:).
func TestPrivateFieldsStayPrivate(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	a, card := funded(t, e, "10")
	b := e.RegisterVerified(t)
	for _, id := range []string{a.ID, card} {
		r := e.Do(t, b.AccessToken, `query($id: ID!){ node(id:$id) { id } }`, map[string]any{"id": id})
		if got := r.Codes(); len(got) != 1 || got[0] != "NOT_FOUND" {
			t.Errorf("node(%s) by another user: %v %s", id[:4], got, r.Data)
		}
	}
}

// TestMoneyNeedsVerifiedName: linking a card needs a verified real name and
// a card in that name; a top-up by an unverified user is refused even with
// a card on file.
func TestMoneyNeedsVerifiedName(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		link := func(u *testenv.User, holder string) payload {
			var out struct{ LinkBankCard payload }
			e.Do(t, u.AccessToken, `mutation($h:String!){ linkBankCard(input:{cardNumber:"4242424242424242", holderName:$h}) { userErrors { code field } } }`,
				map[string]any{"h": holder}).Decode(t, &out)
			return out.LinkBankCard
		}
		if c := link(u, testenv.LegalName).code(); c != "VERIFICATION_REQUIRED" {
			t.Fatalf("unverified user linking a card: %q", c)
		}
		v := e.RegisterVerified(t)
		if p := link(v, "Han Meimei"); p.code() != "INVALID_INPUT" || p.UserErrors[0].Field[1] != "holderName" {
			t.Fatalf("card in another name: %+v", p)
		}
		// A card on file (placed behind the API's back) does not let an
		// unverified user top up.
		card, err := e.App.DB.Client.BankCard.Create().SetUserID(pulidOf(u.ID)).SetToken("tok_sbx_succeeded_x").
			SetLast4("4242").SetBrand("visa").SetHolderName("Li Lei").Save(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		before := ledgerCount(t, e)
		if r := topUp(t, e, u, string(card.ID), "10", "unverified"); r.code() != "VERIFICATION_REQUIRED" || r.ID != "" {
			t.Fatalf("unverified top-up: %+v", r)
		}
		if r := withdraw(t, e, u, string(card.ID), "10", "unverified-w"); r.code() != "VERIFICATION_REQUIRED" {
			t.Fatalf("unverified withdrawal: %+v", r)
		}
		e.App.Bank.Drain()
		if ledgerCount(t, e) != before {
			t.Fatal("money moved for an unverified user")
		}
	})
}

// TestCallbackControlCharacters: a genuine decline whose reason holds a
// NUL is applied (the reason stored without it), and a reference holding
// one is NOT_FOUND, on both engines (found in review: PostgreSQL refused
// the NUL, the callback answered 500 and the top-up stayed PENDING
// through every retry).
func TestCallbackControlCharacters(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.RegisterVerified(t)
		pending := linkCard(t, e, u, cardPending)
		r := topUp(t, e, u, pending, "40", "nul-reason")
		e.App.Bank.Drain()
		post := func(body string) (int, string) {
			return postCallback(e, e.App.Bank.Signer.Header(time.Now(), []byte(body)), []byte(body))
		}
		if code, c := post(`{"id":"cb_ref","kind":"charge","reference":"top_01J0000000000000000000000\u0000","outcome":"SUCCEEDED","amount":4000,"currency":"CNY"}`); code != http.StatusNotFound || c != "NOT_FOUND" {
			t.Fatalf("a reference holding a NUL: %d %s, want 404 NOT_FOUND", code, c)
		}
		if code, c := post(fmt.Sprintf(`{"id":"cb_nul","kind":"charge","reference":%q,"outcome":"DECLINED","reason":"do not honour\u0000","amount":4000,"currency":"CNY"}`, r.ID)); code != http.StatusOK {
			t.Fatalf("a decline whose reason holds a NUL: %d %s", code, c)
		}
		if st := nodeStatus(t, e, u, r.ID); st != "FAILED" {
			t.Fatalf("the top-up after the decline: %s", st)
		}
		got, err := e.App.DB.Client.TopUp.Get(context.Background(), pulid.ID(r.ID))
		if err != nil || got.FailureReason != "do not honour?" {
			t.Fatalf("the stored reason: %q %v", got.FailureReason, err)
		}
	})
}

// postCallback posts body to the bank callback endpoint with the
// signature header and returns the status and the refusal's code.
func postCallback(e *testenv.Env, header string, body []byte) (int, string) {
	req := httptest.NewRequest(http.MethodPost, bank.CallbackPath, strings.NewReader(string(body)))
	req.Header.Set(bank.SignatureHeader, header)
	rec := httptest.NewRecorder()
	e.App.Handler().ServeHTTP(rec, req)
	var refusal struct{ Code string }
	_ = json.Unmarshal(rec.Body.Bytes(), &refusal)
	return rec.Code, refusal.Code
}
