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

// TopUp is money coming in from a bank card: PENDING until the gateway
// answers, then SUCCEEDED (money moved) or FAILED (nothing moved).
type TopUp struct{ ent.Schema }

// Mixin of the TopUp.
func (TopUp) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixTopUp}, TimeMixin{}}
}

// Fields of the TopUp.
func (TopUp) Fields() []ent.Field {
	return bankOperationFields("top-up", nil, map[string]string{
		"PENDING":   "Sent to the bank; no money has moved yet.",
		"SUCCEEDED": "The bank took the money from the card; it is in the user's available balance.",
		"FAILED":    "The bank declined; nothing moved. failureReason says why.",
	})
}

// Indexes of the TopUp.
func (TopUp) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "created_at")}
}

// Annotations of the TopUp.
func (TopUp) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Type("TopUp"),
		gqldoc.Type("Money coming in from a linked bank card: PENDING until the bank answers, then SUCCEEDED (credited to the available balance) or FAILED (nothing moved).")}
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
	return append(bankOperationFields("withdrawal", []string{"HELD"}, map[string]string{
		"PENDING":   "The amount is held from the available balance and the payout is sent to the bank.",
		"SUCCEEDED": "The bank paid the amount out to the card.",
		"FAILED":    "The bank declined, or an operator rejected a held withdrawal; the held amount is back in the available balance. failureReason says why.",
		"HELD":      "Held for review by risk: the amount is set aside from the available balance, nothing is sent to the bank until an operator approves (then PENDING) or rejects (then FAILED, the amount returned).",
	}),
		field.String("risk_decision").Optional().MaxLen(16).Annotations(entgql.Skip()).
			Comment("risk's decision when the withdrawal was made: ALLOW, STEP_UP or HOLD"),
		field.Strings("risk_reasons").Optional().Annotations(entgql.Skip()).
			Comment("the stable reason codes behind risk_decision"),
		field.Bool("password_free").Default(false).Annotations(entgql.Skip()).
			Comment("made without a passkey, within the password-free allowance"),
	)
}

// Annotations of the Withdrawal.
func (Withdrawal) Annotations() []schema.Annotation {
	return []schema.Annotation{gqldoc.Type("Money going out to a linked bank card: the amount is held at once, then paid out (SUCCEEDED) or returned to the available balance (FAILED) when the bank answers.")}
}

// Indexes of the Withdrawal.
func (Withdrawal) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "created_at")}
}

// bankOperationFields are the fields of a top-up or withdrawal (noun);
// more are its statuses beyond the common three; states describes each
// status in GraphQL.
func bankOperationFields(noun string, more []string, states map[string]string) []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.String("bank_card_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.Int64("amount").Positive().Immutable().Annotations(entgql.Skip()),
		field.String("currency").MinLen(3).MaxLen(3).Immutable().
			Comment("ISO 4217 code of the amount, e.g. CNY."),
		field.Enum("status").Values(append([]string{"PENDING", "SUCCEEDED", "FAILED"}, more...)...).Default("PENDING").
			Comment("Where the " + noun + " stands; PENDING changes once, to SUCCEEDED or FAILED.").
			Annotations(gqldoc.Enum("The state of a "+noun+".", states)),
		field.String("failure_reason").Optional().MaxLen(200).
			Comment("The bank's reason for a FAILED " + noun + ", at most 200 bytes; empty otherwise."),
		field.Time("completed_at").Optional().Nillable().
			Comment("When the bank's answer was applied; null while PENDING."),
	}
}
