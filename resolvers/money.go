package resolvers

import (
	"context"

	"danbao/auth"
	"danbao/ent/schema/pulid"
	"danbao/graph/model"
	"danbao/internal/apperr"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/wallet"

	"github.com/99designs/gqlgen/graphql"
)

// ownerOrOperator lets the user themself or an operator read a user's
// private fields (phone, role, timestamps, balances, history, cards,
// verification, limits), wherever the User object was reached from, as
// does the user a sign-in mutation of this operation returns (before any
// token of theirs); anyone else gets FORBIDDEN.
func ownerOrOperator(ctx context.Context, userID pulid.ID) error {
	who, err := auth.Require(ctx)
	switch {
	case err == nil && (who.UserID == userID || who.Operator()):
		return nil
	case signedInNow(ctx, userID): // the user a sign-in in this operation returns
		return nil
	case err != nil:
		return err
	}
	return apperr.New(apperr.Forbidden, "only the user themself may read this")
}

func decimal(minor int64, c string) model.Decimal {
	return model.Decimal(money.FormatMinor(minor, money.Currency(c)))
}

func markReplay(ctx context.Context, replay bool) {
	if replay {
		graphql.RegisterExtension(ctx, "idempotentReplay", true)
	}
}

func moveInput(card, amount, currency, key string) wallet.MoveInput {
	return wallet.MoveInput{BankCardID: pulidOf(card), Amount: amount, Currency: currency, IdempotencyKey: key}
}

func balances(bs []wallet.Balance) []*model.Balance {
	out := make([]*model.Balance, len(bs))
	for i, b := range bs {
		out[i] = &model.Balance{Currency: string(b.Currency),
			Available: decimal(b.Available, string(b.Currency)), Held: decimal(b.Held, string(b.Currency))}
	}
	return out
}

func historyFilter(f *model.TransactionFilter) ledger.HistoryFilter {
	var out ledger.HistoryFilter
	if f == nil {
		return out
	}
	for _, t := range f.Types {
		out.Kinds = append(out.Kinds, string(t))
	}
	if f.Currency != nil {
		out.Currency = *f.Currency
	}
	out.From, out.To = f.From, f.To
	return out
}

func verification(r *ledger.Report) *model.LedgerVerification {
	out := &model.LedgerVerification{Ok: r.OK(), Transactions: r.Transactions, Accounts: r.Accounts, Violations: []*model.LedgerViolation{}}
	for _, v := range r.Violations {
		out.Violations = append(out.Violations, &model.LedgerViolation{Kind: v.Kind, Message: v.Message})
	}
	return out
}

func custodyReport(days []ledger.CustodyDay) *model.CustodyReport {
	out := &model.CustodyReport{Days: make([]*model.CustodyDay, len(days))}
	for i, d := range days {
		out.Days[i] = &model.CustodyDay{Date: d.Date, Currency: d.Currency,
			OpeningCustody: decimal(d.OpeningCustody, d.Currency), ClosingCustody: decimal(d.ClosingCustody, d.Currency),
			CustomerFunds: decimal(d.CustomerFunds, d.Currency), PlatformFunds: decimal(d.PlatformFunds, d.Currency),
			Custody:    decimal(d.Custody, d.Currency),
			Difference: decimal(d.Difference, d.Currency)}
	}
	return out
}
