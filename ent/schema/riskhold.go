package schema

import (
	"danbao/ent/schema/gqldoc"
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RiskHold is one outflow (a payment or a withdrawal) that risk held for
// review: its money is already set aside (in escrow, or in withdrawal
// clearing) and it waits for an operator. Its status changes once, by
// compare-and-set, in the transaction that releases or returns the money.
type RiskHold struct{ ent.Schema }

// Mixin of the RiskHold.
func (RiskHold) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixRiskHold}, TimeMixin{}}
}

// Fields of the RiskHold.
func (RiskHold) Fields() []ent.Field {
	skip := entgql.Skip()
	return []ent.Field{
		field.Enum("kind").Values("PAYMENT", "WITHDRAWAL").Immutable().
			Comment("What is held.").
			Annotations(entgql.Type("HeldItemKind"), gqldoc.Enum("What kind of outflow is held.", map[string]string{
				"PAYMENT":    "An escrowed payment, HELD with its amount in escrow.",
				"WITHDRAWAL": "A withdrawal, HELD with its amount set aside from the available balance.",
			})),
		field.String("subject_id").GoType(pulid.ID("")).Unique().Immutable().Annotations(skip).
			Comment("the payment or withdrawal"),
		field.String("user_id").GoType(pulid.ID("")).Immutable().Annotations(skip).Comment("whose money it is"),
		field.Int64("amount").Positive().Immutable().Annotations(skip).Comment("minor units"),
		field.String("currency").MinLen(3).MaxLen(3).Immutable().Comment("ISO 4217 code of the amount, e.g. CNY."),
		field.Strings("reasons").Immutable().Comment("Why risk held it: stable reason codes such as NEW_PASSKEY, BURST_MINUTE, TAKEOVER_PATTERN (see docs/design.md, Risk)."),
		field.Enum("status").Values("HELD", "APPROVED", "REJECTED").Default("HELD").
			Comment("Where the review stands; HELD changes once, to APPROVED or REJECTED.").
			Annotations(entgql.Type("HeldItemStatus"), gqldoc.Enum("Where the review of a held outflow stands.", map[string]string{
				"HELD":     "Waiting for an operator.",
				"APPROVED": "Released by an operator: the payment went on to PAID, the withdrawal to the bank.",
				"REJECTED": "Rejected by an operator: the money went back to the user's available balance.",
			})),
		field.String("decided_by").GoType(pulid.ID("")).Optional().Nillable().Annotations(skip).Comment("the operator"),
		field.Time("decided_at").Optional().Nillable().Comment("When an operator decided; null while HELD."),
		field.String("note").Optional().MaxRuneLen(500).Comment("The operator's note, at most 500 characters; empty while HELD."),
	}
}

// Indexes of the RiskHold.
func (RiskHold) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status", "created_at")}
}

// Annotations of the RiskHold.
func (RiskHold) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Type("HeldItem"), entgql.RelayConnection(), entgql.Skip(entgql.SkipOrderField),
		gqldoc.Type("A payment or withdrawal that risk held for review, with its reasons. Its money is already set aside; an operator approves it (it proceeds) or rejects it (the money goes back). Visible to operators only.")}
}

// PasswordFreeAllowance is a user's password-free small allowance: when
// enabled, payments and withdrawals in CNY of at most per_payment_minor,
// adding up to at most daily_minor a day (never above 1,000 CNY), may go
// through without a passkey when risk allows. What was used each day is
// counted in LimitUsage (period "F2026-12-02").
type PasswordFreeAllowance struct{ ent.Schema }

// Mixin of the PasswordFreeAllowance.
func (PasswordFreeAllowance) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixPasswordFree}}
}

// Fields of the PasswordFreeAllowance.
func (PasswordFreeAllowance) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Unique().Immutable(),
		field.Bool("enabled").Default(false),
		field.Int64("per_payment_minor").NonNegative(),
		field.Int64("daily_minor").NonNegative(),
		field.Time("updated_at").Default(now).UpdateDefault(now),
	}
}

// Annotations of the PasswordFreeAllowance.
func (PasswordFreeAllowance) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
