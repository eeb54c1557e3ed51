// Written by hand (ent generates the rest of this package): the fields of
// the GraphQL LedgerEntry that are not columns, as methods without a
// context, so that gqlgen marshals them inline (see gqlgen.yml).

package ent

import (
	"danbao/ent/schema/scalar"
	"danbao/internal/money"
)

// Type is the entry's GraphQL type: its journal transaction's kind.
func (p *Posting) Type() scalar.EntryType { return scalar.EntryType(p.Kind) }

// Direction is CREDIT for money in, DEBIT for money out.
func (p *Posting) Direction() scalar.EntryDirection {
	if p.Amount < 0 {
		return scalar.EntryDirectionDebit
	}
	return scalar.EntryDirectionCredit
}

// AmountDecimal is what moved the balance, always positive (Direction
// says which way), in major units.
func (p *Posting) AmountDecimal() scalar.Decimal {
	a := p.Amount
	if a < 0 {
		a = -a
	}
	return scalar.Decimal(money.FormatMinor(a, money.Currency(p.Currency)))
}

// BalanceAfterDecimal is the account's balance after the entry, in major
// units.
func (p *Posting) BalanceAfterDecimal() scalar.Decimal {
	return scalar.Decimal(money.FormatMinor(p.BalanceAfter, money.Currency(p.Currency)))
}
