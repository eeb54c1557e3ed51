package schema

import (
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// TopUp is money coming in from a bank card: PENDING until the gateway
// answers, then SUCCEEDED (money moved) or FAILED (nothing moved).
type TopUp struct{ ent.Schema }

// Mixin of the TopUp.
func (TopUp) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixTopUp}, TimeMixin{}}
}

// Fields of the TopUp.
func (TopUp) Fields() []ent.Field {
	return bankOperationFields()
}

// Indexes of the TopUp.
func (TopUp) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "created_at")}
}

// Annotations of the TopUp.
func (TopUp) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Type("TopUp")}
}

// Withdrawal is money going out to a bank card: the amount is held at once,
// then paid out (SUCCEEDED) or returned (FAILED) when the gateway answers.
type Withdrawal struct{ ent.Schema }

// Mixin of the Withdrawal.
func (Withdrawal) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixWithdrawal}, TimeMixin{}}
}

// Fields of the Withdrawal.
func (Withdrawal) Fields() []ent.Field {
	return bankOperationFields()
}

// Indexes of the Withdrawal.
func (Withdrawal) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "created_at")}
}

func bankOperationFields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.String("bank_card_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.Int64("amount").Positive().Immutable().Annotations(entgql.Skip()),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.Enum("status").Values("PENDING", "SUCCEEDED", "FAILED").Default("PENDING"),
		field.String("failure_reason").Optional().MaxLen(200),
		field.Time("completed_at").Optional().Nillable(),
	}
}
