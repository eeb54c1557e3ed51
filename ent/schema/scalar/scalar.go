// Package scalar holds GraphQL scalar and enum types that ent's entities
// return from methods of their own (ent/posting_gql.go), beside pulid's
// ID: a ledger entry's type, direction and amounts are then plain fields
// of the GraphQL object, with no resolver, and gqlgen marshals them inline
// instead of in one goroutine each. Like ent's schema it imports, of this
// module, only a pure leaf (apperr); package graph/model aliases its types
// under their usual names.
package scalar

import (
	"io"
	"strconv"

	"danbao/internal/apperr"
)

// Decimal is the Decimal scalar: a decimal string in major units. Its
// syntax and range are checked against the currency by the service
// (money.ParsePositive), which reports errors on the input field.
type Decimal string

// MarshalGQL implements graphql.Marshaler.
func (d Decimal) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(d))) }

// UnmarshalGQL implements graphql.Unmarshaler. Only a string is a
// Decimal, written in the operation or given in the variables: a number
// (1000, 12.5, 1e3) is refused, whether a literal or a JSON number, since a
// float cannot carry money exactly and a client that sends one has a bug
// that a string would not hide.
func (d *Decimal) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return apperr.New(apperr.InvalidInput, "a Decimal must be a string such as \"12.34\", not a number")
	}
	*d = Decimal(s)
	return nil
}

// EntryType is the EntryType enum: the kind of movement a ledger entry
// belongs to (the journal transaction's kind).
type EntryType string

// The entry types (graph/money.graphqls).
const (
	EntryTypeTopup                  EntryType = "TOPUP"
	EntryTypeWithdrawal             EntryType = "WITHDRAWAL"
	EntryTypeWithdrawalPayout       EntryType = "WITHDRAWAL_PAYOUT"
	EntryTypeWithdrawalReturn       EntryType = "WITHDRAWAL_RETURN"
	EntryTypeTransfer               EntryType = "TRANSFER"
	EntryTypePayment                EntryType = "PAYMENT"
	EntryTypePaymentRelease         EntryType = "PAYMENT_RELEASE"
	EntryTypePaymentRefund          EntryType = "PAYMENT_REFUND"
	EntryTypeProtectionCompensation EntryType = "PROTECTION_COMPENSATION"
	EntryTypeProtectionFunding      EntryType = "PROTECTION_FUNDING"
)

// AllEntryType lists the entry types.
var AllEntryType = []EntryType{EntryTypeTopup, EntryTypeWithdrawal, EntryTypeWithdrawalPayout, EntryTypeWithdrawalReturn,
	EntryTypeTransfer, EntryTypePayment, EntryTypePaymentRelease, EntryTypePaymentRefund,
	EntryTypeProtectionCompensation, EntryTypeProtectionFunding}

// IsValid reports whether e is one of the entry types.
func (e EntryType) IsValid() bool {
	for _, v := range AllEntryType {
		if e == v {
			return true
		}
	}
	return false
}

// String is e's name.
func (e EntryType) String() string { return string(e) }

// MarshalGQL implements graphql.Marshaler.
func (e EntryType) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(e))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (e *EntryType) UnmarshalGQL(v any) error { return unmarshalEnum(v, e, "EntryType") }

// EntryDirection is the EntryDirection enum: CREDIT for money in, DEBIT
// for money out.
type EntryDirection string

// The directions.
const (
	EntryDirectionCredit EntryDirection = "CREDIT"
	EntryDirectionDebit  EntryDirection = "DEBIT"
)

// IsValid reports whether e is a direction.
func (e EntryDirection) IsValid() bool { return e == EntryDirectionCredit || e == EntryDirectionDebit }

// String is e's name.
func (e EntryDirection) String() string { return string(e) }

// MarshalGQL implements graphql.Marshaler.
func (e EntryDirection) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(e))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (e *EntryDirection) UnmarshalGQL(v any) error { return unmarshalEnum(v, e, "EntryDirection") }

// unmarshalEnum sets *e to the enum value v names, refusing anything but
// one of the enum's names (INVALID_INPUT).
func unmarshalEnum[E interface {
	~string
	IsValid() bool
}](v any, e *E, name string) error {
	s, ok := v.(string)
	if !ok {
		return apperr.New(apperr.InvalidInput, "%s must be a string", name)
	}
	if *e = E(s); !(*e).IsValid() {
		return apperr.New(apperr.InvalidInput, "%q is not a %s", s, name)
	}
	return nil
}
