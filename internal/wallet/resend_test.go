package wallet_test

import (
	"context"
	"danbao/internal/money"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/bank"
	"danbao/internal/sandboxbank"
	"danbao/internal/testenv"
	"danbao/internal/wallet"
)

// flaky is a gateway whose first charge and first payout never arrive.
type flaky struct {
	*sandboxbank.Bank
	charges, payouts atomic.Int32
}

func (f *flaky) Charge(ctx context.Context, r bank.Request) error {
	if f.charges.Add(1) == 1 {
		return errors.New("gateway timeout")
	}
	return f.Bank.Charge(ctx, r)
}

func (f *flaky) Payout(ctx context.Context, r bank.Request) error {
	if f.payouts.Add(1) == 1 {
		return errors.New("gateway timeout")
	}
	return f.Bank.Payout(ctx, r)
}

type verified struct{}

func (verified) RequireVerified(context.Context, *ent.Tx, pulid.ID) error         { return nil }
func (verified) CheckNotFrozen(context.Context, *ent.Tx, pulid.ID) error          { return nil }
func (verified) CheckCardHolder(context.Context, *ent.Tx, pulid.ID, string) error { return nil }

func (verified) CheckOutflow(context.Context, *ent.Tx, pulid.ID, int64, money.Currency) error {
	return nil
}

// RecordPasswordFree lets every withdrawal through without a passkey: this
// test is about the gateway, not authorization.
func (verified) RecordPasswordFree(context.Context, *ent.Tx, pulid.ID, int64, money.Currency, time.Time, []string) error {
	return nil
}

// TestResendPending: an operation whose gateway request was lost stays
// PENDING until ResendPending asks again; then it settles, once.
func TestResendPending(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		gw := &flaky{Bank: e.App.Bank}
		s := wallet.New(e.App.DB.Client, e.App.Ledger, e.App.Keys, verified{}, gw, e.App.IdentityKeys, slog.Default())
		u := pulid.ID(e.Register(t).ID)
		card, err := s.LinkBankCard(ctx, u, wallet.LinkBankCardInput{CardNumber: bank.SandboxCardSucceeds, HolderName: "X"})
		if err != nil {
			t.Fatal(err)
		}
		top, _, err := s.TopUp(ctx, u, wallet.MoveInput{BankCardID: card.ID, Amount: "50", Currency: "CNY", IdempotencyKey: "t1"})
		if err != nil {
			t.Fatal(err)
		}
		e.App.Bank.Drain()
		status := func(id pulid.ID) string {
			if id.Prefix() == pulid.PrefixTopUp {
				x, _ := e.App.DB.Client.TopUp.Get(ctx, id)
				return string(x.Status)
			}
			x, _ := e.App.DB.Client.Withdrawal.Get(ctx, id)
			return string(x.Status)
		}
		if st := status(top.ID); st != "PENDING" {
			t.Fatalf("lost charge: %s", st)
		}
		// Not yet old enough: nothing is re-sent.
		if n, err := s.ResendPending(ctx, time.Now().Add(-time.Hour), 10); err != nil || n != 0 {
			t.Fatalf("young operations re-sent: %d %v", n, err)
		}
		if n, err := s.ResendPending(ctx, time.Now(), 10); err != nil || n != 1 {
			t.Fatalf("re-sent %d: %v", n, err)
		}
		e.App.Bank.Drain()
		if st := status(top.ID); st != "SUCCEEDED" {
			t.Fatalf("after re-send: %s", st)
		}
		w, _, err := s.Withdraw(ctx, u, wallet.MoveInput{BankCardID: card.ID, Amount: "20", Currency: "CNY", IdempotencyKey: "w1"})
		if err != nil {
			t.Fatal(err)
		}
		e.App.Bank.Drain()
		if n, err := s.ResendPending(ctx, time.Now(), 10); err != nil || n != 1 {
			t.Fatalf("re-sent %d: %v", n, err)
		}
		e.App.Bank.Drain()
		if st := status(w.ID); st != "SUCCEEDED" {
			t.Fatalf("withdrawal after re-send: %s", st)
		}
		// Settled operations are not re-sent; money moved once each.
		if n, _ := s.ResendPending(ctx, time.Now(), 10); n != 0 {
			t.Fatalf("settled operations re-sent: %d", n)
		}
		bs, _ := s.Balances(ctx, u)
		if bs[0].Available != 3000 || bs[0].Held != 0 {
			t.Fatalf("balance %+v", bs[0])
		}
		if r, err := e.App.Ledger.Verify(ctx); err != nil || !r.OK() {
			t.Fatalf("verify %v %+v", err, r)
		}
	})
}

// TestFailureReasonIsStoredSafely: a long reason with multi-byte characters
// (and invalid bytes) from the gateway is cut on a character boundary and
// stored; the decline is applied, not refused as an internal error.
func TestFailureReasonIsStoredSafely(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		s := wallet.New(e.App.DB.Client, e.App.Ledger, e.App.Keys, verified{}, e.App.Bank, e.App.IdentityKeys, slog.Default())
		u := pulid.ID(e.Register(t).ID)
		card, err := s.LinkBankCard(ctx, u, wallet.LinkBankCardInput{CardNumber: bank.SandboxCardPending, HolderName: "X"})
		if err != nil {
			t.Fatal(err)
		}
		top, _, err := s.TopUp(ctx, u, wallet.MoveInput{BankCardID: card.ID, Amount: "5", Currency: "CNY", IdempotencyKey: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		reason := "x" + strings.Repeat("拒", 100) + "\xff" // byte 200 falls inside a character
		if err := s.ApplyOutcome(ctx, bank.Callback{Kind: bank.KindCharge, Reference: string(top.ID), Outcome: bank.OutcomeDeclined, Amount: top.Amount, Currency: top.Currency, Reason: reason}); err != nil {
			t.Fatalf("decline with a long reason: %v", err)
		}
		got, _ := e.App.DB.Client.TopUp.Get(ctx, top.ID)
		if got.Status != "FAILED" || len(got.FailureReason) > 200 || !utf8.ValidString(got.FailureReason) || !strings.HasPrefix(got.FailureReason, "x拒") {
			t.Fatalf("stored %q (%d bytes) status %s", got.FailureReason, len(got.FailureReason), got.Status)
		}
	})
}

// full is a gateway whose callback queue is full.
type full struct{ *sandboxbank.Bank }

func (full) Room() int { return 0 }

// TestSaturatedGatewayRefuses: while the gateway's queue is full a new
// top-up or withdrawal is refused with RATE_LIMITED (retryAfterSeconds)
// and changes nothing; a replay of an operation already started is still
// answered; recovery claims nothing and reports the gateway busy.
func TestSaturatedGatewayRefuses(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		open := wallet.New(e.App.DB.Client, e.App.Ledger, e.App.Keys, verified{}, e.App.Bank, e.App.IdentityKeys, slog.Default())
		busy := wallet.New(e.App.DB.Client, e.App.Ledger, e.App.Keys, verified{}, full{e.App.Bank}, e.App.IdentityKeys, slog.Default())
		u := pulid.ID(e.Register(t).ID)
		card, err := open.LinkBankCard(ctx, u, wallet.LinkBankCardInput{CardNumber: bank.SandboxCardPending, HolderName: "X"})
		if err != nil {
			t.Fatal(err)
		}
		first, _, err := open.TopUp(ctx, u, wallet.MoveInput{BankCardID: card.ID, Amount: "5", Currency: "CNY", IdempotencyKey: "k1"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = busy.TopUp(ctx, u, wallet.MoveInput{BankCardID: card.ID, Amount: "5", Currency: "CNY", IdempotencyKey: "k2"})
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.RateLimited || ae.Extensions["retryAfterSeconds"] == nil {
			t.Fatalf("top-up on a saturated gateway: %v", err)
		}
		if _, _, err = busy.Withdraw(ctx, u, wallet.MoveInput{BankCardID: card.ID, Amount: "1", Currency: "CNY", IdempotencyKey: "k3"}); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("withdrawal on a saturated gateway: %v", err)
		}
		if n := e.App.DB.Client.TopUp.Query().CountX(ctx); n != 1 {
			t.Fatalf("%d top-ups after the refusal, want 1", n)
		}
		if n := e.App.DB.Client.Withdrawal.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d withdrawals after the refusal", n)
		}
		again, replay, err := busy.TopUp(ctx, u, wallet.MoveInput{BankCardID: card.ID, Amount: "5", Currency: "CNY", IdempotencyKey: "k1"})
		if err != nil || !replay || again.ID != first.ID {
			t.Fatalf("replay on a saturated gateway: %v %v", replay, err)
		}
		if n, err := busy.ResendPending(ctx, time.Now(), 10); n != 0 || !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("recovery on a saturated gateway: %d %v", n, err)
		}
	})
}
