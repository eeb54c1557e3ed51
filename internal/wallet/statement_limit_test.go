package wallet_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/bank"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"
	"danbao/internal/wallet"
)

// TestStatementTooLarge: with an entry limit of 3, a statement of 3
// entries is returned whole; one more entry makes the JSON form refuse
// with STATEMENT_TOO_LARGE (extensions maxEntries 3), while the CSV still
// streams all 4 and the default service (10,000) returns them.
func TestStatementTooLarge(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		from := time.Now().Add(-time.Minute)
		a, c := pulid.ID(e.RegisterVerified(t).ID), pulid.ID(e.RegisterVerified(t).ID)
		card, err := e.App.Wallet.LinkBankCard(ctx, a, wallet.LinkBankCardInput{CardNumber: bank.SandboxCardSucceeds, HolderName: testenv.LegalName})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.App.Wallet.TopUp(ctx, a, wallet.MoveInput{BankCardID: card.ID, Amount: "10.00", Currency: "CNY", IdempotencyKey: "fund"}); err != nil {
			t.Fatal(err)
		}
		e.App.Bank.Drain()
		pay := func() {
			t.Helper()
			if _, err := e.App.Ledger.Transfer(ctx, ledger.TransferInput{From: a, To: c, Amount: 100, Currency: money.CNY}); err != nil {
				t.Fatal(err)
			}
		}
		small := wallet.New(e.App.DB.Client, e.App.Ledger, e.App.Keys, verified{}, e.App.Bank, e.App.IdentityKeys, slog.Default(),
			wallet.WithMaxStatementEntries(3))
		q := wallet.StatementQuery{From: from, To: time.Now().Add(time.Hour), Currency: "CNY"}
		for i := 0; i < 3; i++ {
			pay()
		}
		st, err := small.Statement(ctx, c, q)
		if err != nil || len(st.List) != 3 || st.Closing != 300 {
			t.Fatalf("3 entries at the limit: %+v %v", st, err)
		}
		pay()
		st, err = small.Statement(ctx, c, q)
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.StatementTooLarge || ae.Extensions["maxEntries"] != 3 || st != nil {
			t.Fatalf("4 entries over a limit of 3: %+v %v", st, err)
		}
		var csv strings.Builder
		if err := small.WriteStatementCSV(ctx, &csv, c, q, func() {}); err != nil {
			t.Fatal(err)
		}
		if rows := strings.Count(csv.String(), "\nENTRY,"); rows != 4 {
			t.Fatalf("the CSV has %d entries, want 4:\n%s", rows, csv.String())
		}
		st, err = e.App.Wallet.Statement(ctx, c, q)
		if err != nil || len(st.List) != 4 {
			t.Fatalf("the default limit: %+v %v", st, err)
		}
	})
}
