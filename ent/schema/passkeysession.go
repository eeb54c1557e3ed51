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

// PasskeySession is the server side of one WebAuthn ceremony between its
// begin and finish steps: go-webauthn's whole SessionData, the purpose and
// user it is bound to, and for a payment the payment fields its challenge
// was derived from. It is found by its challenge (which the client echoes
// in clientDataJSON), deleted on first use whatever the outcome, and dead
// after expires_at. Keeping it in the database lets any instance finish a
// ceremony another instance began.
type PasskeySession struct{ ent.Schema }

// Mixin of the PasskeySession.
func (PasskeySession) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixPasskeySession}}
}

// Fields of the PasskeySession.
func (PasskeySession) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("purpose").Values("REGISTRATION", "LOGIN", "PAYMENT", "WITHDRAWAL").Immutable(),
		field.String("user_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("the user the ceremony is for; empty for a discoverable sign-in"),
		field.String("challenge").NotEmpty().MaxLen(128).Unique().Immutable().
			Comment("the challenge, base64url without padding, as clientDataJSON carries it"),
		field.Bytes("data").NotEmpty().Immutable().
			Comment("go-webauthn SessionData as JSON"),
		field.Time("created_at").Default(now).Immutable(),
		field.Time("expires_at").Immutable(),
		field.String("payment_id").Optional().Nillable().Immutable().MaxLen(64),
		field.String("payee_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.Int64("amount_minor").Optional().Nillable().Immutable(),
		field.String("currency").Optional().Nillable().Immutable().MaxLen(3),
		field.String("bank_card_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("a withdrawal's card: the challenge is bound to it"),
		field.Bytes("nonce").Optional().Immutable().Sensitive().
			Comment("the single-use random nonce a payment challenge is derived with"),
	}
}

// Edges of the PasskeySession.
func (PasskeySession) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Immutable(),
	}
}

// Indexes of the PasskeySession.
func (PasskeySession) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("expires_at"),
		index.Fields("payment_id"),
	}
}

// Annotations of the PasskeySession.
func (PasskeySession) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
