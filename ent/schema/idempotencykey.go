package schema

import (
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// IdempotencyKey records a money-moving request under the caller's key, in
// the same transaction as the movement: the same key with the same request
// replays the stored result, with another request it is a conflict.
type IdempotencyKey struct{ ent.Schema }

// Mixin of the IdempotencyKey.
func (IdempotencyKey) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixIdempotencyKey}}
}

// Fields of the IdempotencyKey.
func (IdempotencyKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("scope").NotEmpty().MaxLen(60).Immutable().Comment("the caller"),
		field.String("key").NotEmpty().MaxLen(255).Immutable(),
		field.String("operation").NotEmpty().MaxLen(60).Immutable(),
		field.Bytes("request_hash").Immutable(),
		field.String("result_id").MaxLen(60).Immutable().Comment("the object the request created"),
		field.Time("created_at").Default(now).Immutable(),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes of the IdempotencyKey.
func (IdempotencyKey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("scope", "key").Unique(), index.Fields("expires_at")}
}

// Annotations of the IdempotencyKey.
func (IdempotencyKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
