package schema

import (
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// DailyLimit is the daily limit a user has chosen for money leaving their
// balance in one currency (payments authorized with a passkey, and
// withdrawals), within the configured maximum. Without a row the
// configured default applies. What has been used each day is counted in
// LimitUsage (period "D2026-12-02").
type DailyLimit struct{ ent.Schema }

// Mixin of the DailyLimit.
func (DailyLimit) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixDailyLimit}}
}

// Fields of the DailyLimit.
func (DailyLimit) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.String("currency").MaxLen(3).Immutable(),
		field.Int64("limit_minor").NonNegative(),
		field.Time("updated_at").Default(now).UpdateDefault(now),
	}
}

// Edges of the DailyLimit.
func (DailyLimit) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the DailyLimit.
func (DailyLimit) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "currency").Unique()}
}

// Annotations of the DailyLimit.
func (DailyLimit) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
