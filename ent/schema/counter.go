package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Counter is a named sequence ("ledger", "events"). Taking the next value
// is an UPDATE of its row, which on PostgreSQL holds the row lock until
// commit: values are therefore handed out in commit order, and readers that
// follow a sequence never skip a value that commits later. The ledger
// counter also carries the hash chain's head.
type Counter struct{ ent.Schema }

// Fields of the Counter.
func (Counter) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").MaxLen(40).Immutable(),
		field.Int64("value").Default(0),
		field.Bytes("hash").Optional(),
		// The ledger counter's latest journal stamp, in Unix microseconds:
		// each flush stamps its entries with the later of its clock and
		// this, under the counter's lock, so journal and posting times
		// never decrease as seq grows (history's time filters become seq
		// bounds; see ledger.History).
		field.Int64("stamped_us").Default(0),
	}
}

// Annotations of the Counter.
func (Counter) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
