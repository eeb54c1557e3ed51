package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// LoginThrottle counts failed sign-ins per key (a phone number), whether or
// not an account exists for it, so that guessing passwords is slowed the
// same way for every phone and across server instances.
type LoginThrottle struct{ ent.Schema }

// Fields of the LoginThrottle.
func (LoginThrottle) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").MaxLen(64).Immutable().Comment("the throttled key"),
		field.Int("failures").Default(0).NonNegative(),
		field.Time("locked_until").Optional().Nillable(),
		field.Time("updated_at").Default(now).UpdateDefault(now),
	}
}

// Annotations of the LoginThrottle.
func (LoginThrottle) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
