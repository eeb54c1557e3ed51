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

// LimitUsage counts what a wallet has paid from its balance in one currency
// over one period: the account's life ("LIFETIME") or one calendar year
// ("Y2025"). Package limits adds to it in the paying transaction with a
// conditional update, so concurrent payments cannot both pass one remaining
// allowance.
type LimitUsage struct{ ent.Schema }

// Mixin of the LimitUsage.
func (LimitUsage) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixLimitUsage}}
}

// Fields of the LimitUsage.
func (LimitUsage) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.String("currency").MaxLen(3).Immutable(),
		field.String("period").MaxLen(16).Immutable(),
		field.Int64("used_minor").Default(0).NonNegative(),
		field.Time("updated_at").Default(now).UpdateDefault(now),
	}
}

// Edges of the LimitUsage.
func (LimitUsage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the LimitUsage.
func (LimitUsage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "currency", "period").Unique()}
}

// Annotations of the LimitUsage.
func (LimitUsage) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
