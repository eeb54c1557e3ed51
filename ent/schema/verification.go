package schema

import (
	"danbao/ent/schema/gqldoc"
	"danbao/ent/schema/pulid"
	"danbao/internal/kyc"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Verification is one real-name verification request (a case): who asked,
// for which level, with which identity, and what was decided. Rows are never
// deleted; a user's latest row is their verification as the API shows it.
// The legal name, ID number and evidence are stored only encrypted (see
// package vault) under key_version, bound to the user and the row; the ID
// number is also kept as a keyed blind index, and masked forms are kept for
// display.
type Verification struct{ ent.Schema }

// Mixin of the Verification.
func (Verification) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixVerification}}
}

// Fields of the Verification.
func (Verification) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.Enum("status").GoType(kyc.Status("")).Default(string(kyc.Pending)).
			Comment("PENDING until the verifier or an operator decides, then VERIFIED or REJECTED for good.").
			Annotations(entgql.Type("VerificationStatus"), entgql.Skip(entgql.SkipEnumField)),
		field.Enum("level").GoType(kyc.Level("")).
			Comment("The wallet's level after this request: the level granted once VERIFIED; while PENDING or once REJECTED, the level the wallet already had.").
			Annotations(entgql.Type("VerificationLevel"), entgql.Skip(entgql.SkipEnumField)),
		field.Enum("target_level").GoType(kyc.Level("")).Immutable().
			Comment("The level asked for.").
			Annotations(entgql.Type("VerificationLevel"), entgql.Skip(entgql.SkipEnumField)),
		field.Enum("id_type").GoType(kyc.IDType("")).Immutable().
			Comment("The kind of identity document the request used.").
			Annotations(entgql.Type("IdType"), entgql.Skip(entgql.SkipEnumField)),
		field.String("masked_id_number").Immutable().MaxLen(32).
			Comment("The ID number masked for display, e.g. 110***********002X; the whole number is never returned.").
			Annotations(entgql.MapsTo("maskedIdNumber")),
		field.String("masked_legal_name").Immutable().MaxRuneLen(64).
			Comment("The legal name masked for display, e.g. 李*.").
			Annotations(entgql.MapsTo("legalName")),
		field.Int("evidence_count").Immutable().NonNegative().
			Comment("How many evidence entries the request carried."),
		field.Bytes("legal_name_ciphertext").Sensitive(),
		field.Bytes("id_number_ciphertext").Sensitive(),
		field.Bytes("evidence_ciphertext").Sensitive(),
		field.Int("key_version").Positive().
			Annotations(entgql.Skip()),
		field.Bytes("id_number_index").Immutable().Sensitive(),
		field.String("reason").Optional().Nillable().MaxRuneLen(500).
			Comment("Why the request was rejected, or the reviewer's note."),
		field.Time("submitted_at").Immutable().Default(now).
			Comment("When the user submitted the request."),
		field.Time("decided_at").Optional().Nillable().
			Comment("When the request was verified or rejected."),
		field.String("decided_by").Optional().Nillable().MaxLen(64).
			Comment("verifier:<name> or operator").
			Annotations(entgql.Skip()),
		field.String("reviewer_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("The operator who reviewed the request, if one did.").
			Annotations(entgql.Skip()),
	}
}

// Edges of the Verification.
func (Verification) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable().
			Comment("Who asked to be verified."),
	}
}

// Indexes of the Verification.
func (Verification) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "submitted_at"),
		index.Fields("status"),
		index.Fields("id_number_index"),
	}
}

// Annotations of the Verification.
func (Verification) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(),
		gqldoc.Type("A real-name verification request and its outcome. The legal name and ID number are stored encrypted and shown only masked.")}
}
