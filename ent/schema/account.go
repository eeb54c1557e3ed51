package schema

import (
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Account is one ledger account in one currency: a user's available
// balance, or a platform account (custody, clearing, escrow, fees,
// protection fund). Its balance is a cache of the sum of its postings, kept
// in the same transaction as every posting.
type Account struct{ ent.Schema }

// Mixin of the Account.
func (Account) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixAccount}, TimeMixin{}}
}

// Fields of the Account.
func (Account) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").Unique().Immutable().NotEmpty().MaxLen(100).
			Comment("user:<id>:AVAILABLE:<currency> or platform:<KIND>:<currency>"),
		field.String("owner_id").GoType(pulid.ID("")).Optional().Immutable().
			Comment("the user; empty for platform accounts"),
		field.Enum("kind").Values("AVAILABLE", "CUSTODY", "TOPUP_CLEARING", "WITHDRAWAL_CLEARING", "ESCROW", "FEES", "PROTECTION_FUND").Immutable(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.Int64("balance").Default(0).
			Comment("signed, credit-positive: liabilities to users are positive, custody (an asset) negative"),
	}
}

// Indexes of the Account.
func (Account) Indexes() []ent.Index {
	return []ent.Index{index.Fields("owner_id", "currency")}
}

// Annotations of the Account.
func (Account) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
