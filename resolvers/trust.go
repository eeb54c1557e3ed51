package resolvers

import (
	"danbao/graph/model"
	"danbao/internal/money"
	"danbao/internal/wallet"
)

// statement maps a wallet statement to its GraphQL type.
func statement(st *wallet.Statement) *model.Statement {
	c := st.Currency
	out := &model.Statement{Currency: string(c), From: st.From, To: st.To,
		OpeningBalance: model.Decimal(money.FormatMinor(st.Opening, c)),
		ClosingBalance: model.Decimal(money.FormatMinor(st.Closing, c)),
		TotalCredits:   model.Decimal(money.FormatMinor(st.Credits, c)),
		TotalDebits:    model.Decimal(money.FormatMinor(st.Debits, c)),
		TotalFees:      model.Decimal(money.FormatMinor(st.Fees, c)),
		Entries:        make([]*model.StatementEntry, len(st.List)),
	}
	for i, e := range st.List {
		l := e.Line(c)
		me := &model.StatementEntry{ID: l.ID, At: l.At, TransactionID: l.TransactionID, Type: model.EntryType(l.Type),
			Direction: model.EntryDirection(l.Direction), Amount: model.Decimal(l.Amount), Fee: model.Decimal(l.Fee),
			BalanceAfter: model.Decimal(l.BalanceAfter)}
		if l.Counterparty != "" {
			me.Counterparty = &l.Counterparty
		}
		if l.PaymentID != "" {
			me.PaymentID = &l.PaymentID
		}
		if l.MerchantOrderRef != "" {
			me.MerchantOrderRef = &l.MerchantOrderRef
		}
		if l.Reference != "" {
			me.Reference = &l.Reference
		}
		out.Entries[i] = me
	}
	return out
}
