package schema

import (
	"danbao/ent/schema/pulid"
	"danbao/internal/kyc"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// TrustScore is a user's trust score (0 to 1000) with the inputs it was
// computed from, so operators can see why (package trust). One row per
// user, updated by package escrow in the transaction of each payment
// that completes, is refunded or is disputed: the counters
// (completed_trades, completed_sales, refunds, lost_disputes,
// last_lost_dispute_at) by delta, the level and account age read afresh,
// the score from them (trust.Service.Apply). trust.Service.Repair
// recounts them from the payments.
type TrustScore struct{ ent.Schema }

// Mixin of the TrustScore.
func (TrustScore) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixTrustScore}}
}

// Fields of the TrustScore.
func (TrustScore) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Unique().Immutable(),
		field.Int("score").Min(0).Max(1000),
		field.Enum("level").GoType(kyc.Level("")).Comment("verification level when computed"),
		field.Int("account_age_days").NonNegative(),
		field.Int("completed_trades").NonNegative().Comment("COMPLETED payments as buyer or seller"),
		field.Int("completed_sales").NonNegative().Comment("COMPLETED payments as seller"),
		field.Int("refunds").NonNegative().Comment("payments received as seller with money refunded"),
		field.Int("lost_disputes").Default(0).NonNegative().Comment("disputes decided against the user"),
		field.Time("last_lost_dispute_at").Optional().Nillable(),
		field.Time("computed_at").Default(now),
	}
}

// Annotations of the TrustScore.
func (TrustScore) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
