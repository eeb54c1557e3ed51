package schema

import (
	"danbao/ent/schema/pulid"
	"danbao/internal/kyc"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// IdentityBinding binds one identity document (by the keyed blind index of
// its type and number) to one wallet, and holds the wallet's verification
// level. A row exists while the wallet has a PENDING or VERIFIED
// verification; both columns are unique, so one ID number verifies one
// wallet and one wallet one ID number. A first request that is rejected
// deletes the row, freeing the number.
type IdentityBinding struct{ ent.Schema }

// Mixin of the IdentityBinding.
func (IdentityBinding) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixIdentityBinding}, TimeMixin{}}
}

// Fields of the IdentityBinding.
func (IdentityBinding) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Unique().Immutable(),
		field.Bytes("id_number_index").Unique().Immutable().Sensitive(),
		field.Enum("level").GoType(kyc.Level("")).Default(string(kyc.Unverified)),
		field.String("pending_verification_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("The wallet's one PENDING verification, set and cleared by compare-and-set."),
	}
}

// Edges of the IdentityBinding.
func (IdentityBinding) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the IdentityBinding.
func (IdentityBinding) Indexes() []ent.Index {
	// ent makes the edge field's column an ordinary foreign key; one
	// binding per wallet needs this index.
	return []ent.Index{index.Fields("user_id").Unique()}
}

// Annotations of the IdentityBinding.
func (IdentityBinding) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
