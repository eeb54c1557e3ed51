package schema

import (
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Event is one row of the transactional outbox: written in the transaction
// that made the change it describes, numbered by a sequence that follows
// commit order, streamed to subscribers and webhooks.
type Event struct{ ent.Schema }

// Mixin of the Event.
func (Event) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixEvent}}
}

// Fields of the Event.
func (Event) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("seq").Unique().Immutable(),
		field.String("type").NotEmpty().MaxLen(60).Immutable().Comment("e.g. topup.succeeded"),
		field.String("subject_id").GoType(pulid.ID("")).Immutable(),
		field.String("user_id").GoType(pulid.ID("")).Optional().Immutable().Comment("whose event it is"),
		field.JSON("payload", map[string]any{}).Immutable(),
		field.Time("created_at").Default(now).Immutable(),
		field.String("partner_id").GoType(pulid.ID("")).Optional().Immutable().
			Comment("the partner app that may see the event (it created the payment)"),
	}
}

// Indexes of the Event.
func (Event) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "seq"), index.Fields("subject_id", "seq"), index.Fields("partner_id", "seq")}
}

// Annotations of the Event.
func (Event) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Hooks of the Event.
func (Event) Hooks() []ent.Hook { return []ent.Hook{appendOnly} }
