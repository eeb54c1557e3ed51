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

// PasskeyUser holds a user's WebAuthn user handle: random bytes, made once
// per user and the same for every passkey the user registers, which
// authenticators return on discoverable sign-in. It is not the user's ID,
// so the handle says nothing about the account (WebAuthn §14.6.1).
type PasskeyUser struct{ ent.Schema }

// Mixin of the PasskeyUser.
func (PasskeyUser) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixPasskeyUser}}
}

// Fields of the PasskeyUser.
func (PasskeyUser) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.Bytes("handle").NotEmpty().MaxLen(64).Unique().Immutable(),
		field.Time("created_at").Default(now).Immutable(),
	}
}

// Edges of the PasskeyUser.
func (PasskeyUser) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the PasskeyUser.
func (PasskeyUser) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id").Unique()} // one handle per user
}

// Annotations of the PasskeyUser.
func (PasskeyUser) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
