package wallet_test

import (
	"context"
	"io"
	"testing"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/internal/bank"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"
	"danbao/internal/wallet"
)

// BenchmarkStatementCSV streams the CSV statement of a user with 3,000
// entries (transfers to and from another user) on SQLite: one op is the
// whole statement.
func BenchmarkStatementCSV(b *testing.B) {
	const entries = 3000
	e := testenv.New(b, testenv.SQLite)
	ctx := context.Background()
	from := time.Now().Add(-time.Minute)
	a, c := pulid.ID(e.RegisterVerified(b).ID), pulid.ID(e.RegisterVerified(b).ID)
	card, err := e.App.Wallet.LinkBankCard(ctx, a, wallet.LinkBankCardInput{CardNumber: bank.SandboxCardSucceeds, HolderName: testenv.LegalName})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := e.App.Wallet.TopUp(ctx, a, wallet.MoveInput{BankCardID: card.ID, Amount: "100.00", Currency: "CNY", IdempotencyKey: "fund"}); err != nil {
		b.Fatal(err)
	}
	e.App.Bank.Drain()
	for i := 0; i < entries; i++ {
		in := ledger.TransferInput{From: a, To: c, Amount: 100, Currency: money.CNY}
		if i%2 == 1 {
			in.From, in.To = c, a
		}
		if _, err := e.App.Ledger.Transfer(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	q := wallet.StatementQuery{From: from, To: time.Now().Add(time.Minute), Currency: "CNY"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.App.Wallet.WriteStatementCSV(ctx, io.Discard, c, q, func() {}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*entries), "ns/entry")
}
