package schema

import (
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuthSession is one sign-in: the family of refresh tokens it issued and
// the access tokens that carry its ID (the `sid` claim). Its row is the
// lock that serialises refresh, reuse detection and sign-out of the
// family: each of them writes the row first, so a token minted by a
// concurrent refresh is either revoked with the family or never minted.
type AuthSession struct{ ent.Schema }

// Fields of the AuthSession.
func (AuthSession) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").MaxLen(40).NotEmpty().Immutable().
			Comment("the refresh-token family ID, also the sid claim of its access tokens"),
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.String("passkey_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("the passkey that opened the session; revoking the passkey ends it"),
		field.Time("created_at").Default(now).Immutable(),
		field.Time("refreshed_at").Optional().Nillable().
			Comment("when a refresh token of the session was last exchanged"),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Indexes of the AuthSession.
func (AuthSession) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id"), index.Fields("passkey_id")}
}

// Annotations of the AuthSession.
func (AuthSession) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
