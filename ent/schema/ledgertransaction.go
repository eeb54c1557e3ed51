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

// LedgerTransaction is one journal transaction: two or more postings that
// sum to zero per currency. Append-only; each stores the hash of its content
// chained to the previous transaction's hash, in seq order.
type LedgerTransaction struct{ ent.Schema }

// Mixin of the LedgerTransaction.
func (LedgerTransaction) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixLedgerTransaction}}
}

// Fields of the LedgerTransaction.
func (LedgerTransaction) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("seq").Unique().Immutable().Comment("position in the hash chain, from 1"),
		field.String("kind").NotEmpty().MaxLen(40).Immutable(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.String("ref_id").GoType(pulid.ID("")).Optional().Immutable().
			Comment("the top-up, withdrawal or payment this moves money for"),
		field.String("memo").Optional().MaxLen(200).Immutable(),
		field.Bytes("prev_hash").Immutable(),
		field.Bytes("hash").Immutable(),
		field.JSON("evidence", map[string]any{}).Optional().Immutable().
			Comment("authorization evidence (passkey assertion) for payments"),
		field.Time("created_at").Default(now).Immutable(),
	}
}

// Edges of the LedgerTransaction.
func (LedgerTransaction) Edges() []ent.Edge {
	return []ent.Edge{edge.To("postings", Posting.Type)}
}

// Indexes of the LedgerTransaction.
func (LedgerTransaction) Indexes() []ent.Index {
	return []ent.Index{index.Fields("ref_id")}
}

// Annotations of the LedgerTransaction.
func (LedgerTransaction) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Hooks of the LedgerTransaction.
func (LedgerTransaction) Hooks() []ent.Hook { return []ent.Hook{appendOnly} }
