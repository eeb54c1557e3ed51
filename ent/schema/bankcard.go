package schema

import (
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// BankCard is a card a user linked for top-ups and withdrawals. The number
// is never stored: only the gateway's token and the last four digits.
type BankCard struct{ ent.Schema }

// Mixin of the BankCard.
func (BankCard) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixBankCard}, TimeMixin{}}
}

// Fields of the BankCard.
func (BankCard) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.String("token").Sensitive().NotEmpty().Immutable(),
		field.String("last4").MinLen(4).MaxLen(4).Immutable(),
		field.String("brand").MaxLen(20).Immutable(),
		field.String("holder_name").NotEmpty().MaxLen(100).Immutable(),
	}
}

// Indexes of the BankCard.
func (BankCard) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}
