package schema

import (
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// User is a wallet holder or an operator.
type User struct{ ent.Schema }

// Mixin of the User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixUser}, TimeMixin{}}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("phone").Unique().NotEmpty().MaxLen(16).
			Comment("E.164, e.g. +8613800138000"),
		field.String("password_hash").Sensitive().NotEmpty().
			Annotations(entgql.Skip()),
		field.String("display_name").NotEmpty().MaxLen(64),
		field.Enum("role").Values("USER", "OPERATOR").Default("USER").
			Annotations(entgql.Type("Role")),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("refresh_tokens", RefreshToken.Type).Annotations(entgql.Skip()),
	}
}
