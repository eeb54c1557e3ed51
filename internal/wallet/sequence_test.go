package wallet_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"danbao/ent"
	"danbao/ent/riskhold"
	"danbao/ent/schema/pulid"
	"danbao/ent/topup"
	"danbao/ent/withdrawal"
	"danbao/internal/apperr"
	"danbao/internal/bank"
	"danbao/internal/money"
	"danbao/internal/risk"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
	"danbao/internal/wallet"
)

// world is a running instance with a few users and their cards.
type world struct {
	e     *testenv.Env
	users []pulid.ID
	cards map[pulid.ID][]pulid.ID // per user: ok, decline, pending
	auth  map[pulid.ID]*softauthn.Authenticator
	ops   []pulid.ID // top-ups and withdrawals made so far
	keys  int
}

func newWorld(t testing.TB, d testenv.Dialect) *world {
	w := &world{e: testenv.New(t, d), cards: map[pulid.ID][]pulid.ID{}, auth: map[pulid.ID]*softauthn.Authenticator{}}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		tu := w.e.RegisterVerified(t)
		id := pulid.ID(tu.ID)
		w.users = append(w.users, id)
		w.auth[id] = w.e.Authenticator()
		w.e.AddPasskey(t, tu, w.auth[id])
		for _, n := range []string{bank.SandboxCardSucceeds, bank.SandboxCardDeclined, bank.SandboxCardPending} {
			c, err := w.e.App.Wallet.LinkBankCard(ctx, id, wallet.LinkBankCardInput{CardNumber: n, HolderName: testenv.LegalName})
			if err != nil {
				t.Fatal(err)
			}
			w.cards[id] = append(w.cards[id], c.ID)
		}
	}
	return w
}

// step performs one operation chosen by op and arg. Domain refusals
// (insufficient funds, not pending) are part of the game; anything else
// fails the test.
func (w *world) step(t testing.TB, op, arg uint16) {
	ctx := context.Background()
	s := w.e.App.Wallet
	u := w.users[int(arg)%len(w.users)]
	card := w.cards[u][int(arg/3)%3]
	amount := money.FormatMinor(int64(1+int(arg)%5000), money.CNY)
	w.keys++
	key := "k" + string(rune('a'+w.keys%26)) + money.FormatMinor(int64(w.keys), money.JPY)
	var err error
	switch op % 7 {
	case 0, 1:
		var t2 *ent.TopUp
		t2, _, err = s.TopUp(ctx, u, wallet.MoveInput{BankCardID: card, Amount: amount, Currency: "CNY", IdempotencyKey: key})
		if t2 != nil {
			w.ops = append(w.ops, t2.ID)
		}
	case 2: // a withdrawal authorized with the user's passkey
		in := wallet.MoveInput{BankCardID: card, Amount: amount, Currency: "CNY", IdempotencyKey: key}
		options, berr := s.BeginWithdrawalAuthorization(ctx, u, in)
		if berr != nil {
			t.Fatal(berr)
		}
		zero := uint32(0)
		if in.Credential, err = w.auth[u].Assert(options, softauthn.AssertOptions{SignCount: &zero}); err != nil {
			t.Fatal(err)
		}
		var wd *ent.Withdrawal
		wd, _, err = s.Withdraw(ctx, u, in)
		if wd != nil {
			w.ops = append(w.ops, wd.ID)
		}
	case 3: // an operator decides a pending operation
		if len(w.ops) > 0 {
			w.e.App.Bank.Drain()
			_, _, err = s.SettleSandbox(ctx, w.ops[int(arg)%len(w.ops)], arg%2 == 0)
		}
	case 4: // the gateway repeats an outcome it already sent (or contradicts it)
		if len(w.ops) > 0 {
			w.e.App.Bank.Drain()
			id := w.ops[int(arg)%len(w.ops)]
			kind := bank.KindCharge
			if id.Prefix() == pulid.PrefixWithdrawal {
				kind = bank.KindPayout
			}
			outcome := bank.OutcomeSucceeded
			if arg%2 == 1 {
				outcome = bank.OutcomeDeclined
			}
			amount, currency := w.amountOf(t, id)
			if arg%5 == 0 { // a partial capture: refused, changes nothing
				amount--
			}
			err = s.ApplyOutcome(ctx, bank.Callback{ID: "cb", Kind: kind, Reference: string(id), Outcome: outcome, Amount: amount, Currency: currency})
			if arg%5 == 0 && !apperr.Is(err, apperr.AmountMismatch) {
				t.Fatalf("partial capture: %v, want AMOUNT_MISMATCH", err)
			}
		}
	case 5: // retry an earlier request with the same key: must replay
		if len(w.ops) > 0 {
			_, _, err = s.TopUp(ctx, u, wallet.MoveInput{BankCardID: card, Amount: amount, Currency: "CNY", IdempotencyKey: key})
			if err == nil {
				_, replay, rerr := s.TopUp(ctx, u, wallet.MoveInput{BankCardID: card, Amount: amount, Currency: "CNY", IdempotencyKey: key})
				if rerr != nil || !replay {
					t.Fatalf("retry with the same key: replay=%v err=%v", replay, rerr)
				}
			}
		}
	case 6: // an operator approves or rejects a withdrawal risk held
		held, qerr := w.e.App.DB.Client.RiskHold.Query().Where(riskhold.StatusEQ(riskhold.StatusHELD)).All(ctx)
		if qerr != nil {
			t.Fatal(qerr)
		}
		if len(held) > 0 {
			_, _, err = w.e.App.Risk.Decide(ctx, pulid.New(pulid.PrefixUser), arg%2 == 0,
				risk.DecideInput{HoldID: held[int(arg)%len(held)].ID, IdempotencyKey: key})
		}
	}
	switch apperr.CodeOf(err) {
	case "", apperr.InsufficientFunds, apperr.InvalidState, apperr.Conflict, apperr.AmountMismatch:
	default:
		t.Fatalf("op %d: %v", op%7, err)
	}
}

// amountOf returns the amount and currency of a top-up or withdrawal.
func (w *world) amountOf(t testing.TB, id pulid.ID) (int64, string) {
	ctx := context.Background()
	if id.Prefix() == pulid.PrefixWithdrawal {
		x, err := w.e.App.DB.Client.Withdrawal.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return x.Amount, x.Currency
	}
	x, err := w.e.App.DB.Client.TopUp.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return x.Amount, x.Currency
}

// check proves the ledger's invariants and that each user's balance is
// what their top-ups and withdrawals say it should be.
func (w *world) check(t testing.TB) {
	w.e.App.Bank.Drain()
	ctx := context.Background()
	r, err := w.e.App.Ledger.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("invariants broken: %+v", r.Violations)
	}
	c := w.e.App.DB.Client
	for _, u := range w.users {
		var want int64
		tops, _ := c.TopUp.Query().Where(topup.UserID(u), topup.StatusEQ(topup.StatusSUCCEEDED)).All(ctx)
		for _, t := range tops {
			want += t.Amount
		}
		wds, _ := c.Withdrawal.Query().Where(withdrawal.UserID(u), withdrawal.StatusNEQ(withdrawal.StatusFAILED)).All(ctx)
		for _, wd := range wds {
			want -= wd.Amount
		}
		bs, err := w.e.App.Wallet.Balances(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if bs[0].Available != want {
			t.Fatalf("user %s: available %d, operations say %d", u, bs[0].Available, want)
		}
	}
}

// TestRandomSequences runs seeded random sequences of top-ups,
// withdrawals, operator decisions, repeated or contradicting gateway
// outcomes and retries, then proves every invariant.
func TestRandomSequences(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		for seed := uint64(1); seed <= 3; seed++ {
			w := newWorld(t, d)
			rng := rand.New(rand.NewPCG(seed, 7))
			for i := 0; i < 150; i++ {
				w.step(t, uint16(rng.IntN(1<<16)), uint16(rng.IntN(1<<16)))
			}
			w.check(t)
		}
	})
}

// FuzzOperations drives the same game from fuzzer-chosen bytes (SQLite):
// go test ./internal/wallet -run XXX -fuzz FuzzOperations
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 2, 3, 3, 4, 4, 5, 1, 9, 0, 0, 2, 200})
	f.Add([]byte{2, 0, 0, 7, 3, 1, 4, 1, 5, 9, 2, 6})
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 240 {
			script = script[:240]
		}
		w := newWorld(t, testenv.SQLite)
		for len(script) >= 4 {
			w.step(t, binary.BigEndian.Uint16(script), binary.BigEndian.Uint16(script[2:]))
			script = script[4:]
		}
		w.check(t)
	})
}
