package schema

import (
	"danbao/ent/schema/gqldoc"
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Posting is one leg of a journal transaction: a signed amount on one
// account, with the account's balance after it. Append-only. A user's
// history (me.transactions) is the postings of their accounts.
type Posting struct{ ent.Schema }

// Mixin of the Posting.
func (Posting) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixPosting}}
}

// Fields of the Posting.
func (Posting) Fields() []ent.Field {
	return []ent.Field{
		field.String("transaction_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.String("account_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.Int64("seq").Immutable().
			Annotations(entgql.OrderField("SEQ"), entgql.Skip(entgql.SkipType)).
			Comment("the transaction's seq: history order"),
		field.String("kind").NotEmpty().MaxLen(40).Immutable().Annotations(entgql.Skip()).
			Comment("the transaction's kind"),
		field.Int64("amount").Immutable().Annotations(entgql.Skip()).Comment("signed, credit-positive"),
		field.String("currency").MinLen(3).MaxLen(3).Immutable().
			Comment("ISO 4217 code of the entry's amounts, e.g. CNY."),
		field.Int64("balance_after").Immutable().Annotations(entgql.Skip()),
		field.String("day").MinLen(10).MaxLen(10).Immutable().Annotations(entgql.Skip()).
			Comment("UTC date YYYY-MM-DD, for daily reports"),
		field.Time("created_at").Default(now).Immutable().
			Comment("When the money moved (the journal transaction's time)."),
	}
}

// Edges of the Posting.
func (Posting) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("transaction", LedgerTransaction.Type).Ref("postings").Field("transaction_id").
			Unique().Required().Immutable().Annotations(entgql.Skip()),
		edge.To("account", Account.Type).Field("account_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes of the Posting.
func (Posting) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "seq", "id"),
		// History filtered by type: the page in order without reading the
		// entries of other types (a type the user has none of would
		// otherwise read all their entries).
		index.Fields("account_id", "kind", "seq", "id"),
		index.Fields("day"),
		// History's time filters: the first entry at or after a time,
		// whose seq then bounds the page (stamps never decrease in seq).
		index.Fields("account_id", "created_at", "seq"),
		// A journal transaction's legs: the ledger's verification reads
		// them a batch of transactions at a time, history the other leg
		// of a transfer (without it each read scans every posting).
		index.Fields("transaction_id"),
	}
}

// Annotations of the Posting.
func (Posting) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Type("LedgerEntry"), entgql.RelayConnection(),
		// History is always newest first: no client-chosen order.
		entgql.Skip(entgql.SkipOrderField),
		gqldoc.Type("One movement of a user's available balance: a leg of a double-entry journal transaction whose legs sum to zero. Amounts are Decimal strings in the entry's currency.")}
}

// Hooks of the Posting.
func (Posting) Hooks() []ent.Hook { return []ent.Hook{appendOnly} }
