package schema

import (
	"danbao/ent/schema/gqldoc"
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
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
		field.String("display_name").NotEmpty().MaxRuneLen(64).
			Comment("The name other users see (a payee, a counterparty), 1 to 64 characters; not the verified legal name."),
		field.Enum("role").Values("USER", "OPERATOR").Default("USER").
			Comment("What the account may do: USER for wallet holders, OPERATOR for the platform's staff.").
			Annotations(entgql.Type("Role"), gqldoc.Enum("What an account may do.", map[string]string{
				"USER":     "A wallet holder: signs in, verifies a real name, moves their own money.",
				"OPERATOR": "Platform staff: reviews verifications, settles sandbox operations, verifies the ledger, reads custody reports.",
			})),
		field.Time("password_changed_at").Optional().Nillable().Annotations(entgql.Skip()).
			Comment("when the password last changed (null: never since registration); risk steps up outflows for a day after"),
		field.Time("contact_changed_at").Optional().Nillable().Annotations(entgql.Skip()).
			Comment("when the phone or other contact details last changed (null: never); risk steps up outflows for a day after"),
	}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{gqldoc.Type("A wallet holder or an operator. Fields other than id and displayName are visible only to the user themself and to operators.")}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("refresh_tokens", RefreshToken.Type).Annotations(entgql.Skip()),
	}
}
