package schema

import (
	"time"

	"danbao/ent/schema/pulid"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// IDMixin gives a schema a prefixed ULID primary key (see package pulid).
type IDMixin struct {
	mixin.Schema
	prefix string
}

// Fields of the IDMixin.
func (m IDMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			GoType(pulid.ID("")).
			MaxLen(40).
			Immutable().
			DefaultFunc(func() pulid.ID { return pulid.New(m.prefix) }).
			Comment("The object's global ID: a type prefix, an underscore and a ULID (e.g. usr_01J9Z3...). Opaque: pass it to node(id:) or to mutations as is."),
	}
}

// TimeMixin records when a row was created (immutable) and last updated.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(now).Immutable().
			Comment("When the object was created."),
		field.Time("updated_at").Default(now).UpdateDefault(now).
			Comment("When the object last changed."),
	}
}

// now is UTC with microsecond precision, the finest both SQLite and
// PostgreSQL store, so that a value read back equals the value written.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
