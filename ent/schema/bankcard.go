package schema

import (
	"danbao/ent/schema/gqldoc"
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// BankCard is a card a user linked for top-ups and withdrawals. The number
// is never stored: only the gateway's token and the last four digits. The
// holder's name is identity data: stored encrypted (internal/vault, the
// keys of ID numbers) and shown masked.
type BankCard struct{ ent.Schema }

// Mixin of the BankCard.
func (BankCard) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixBankCard}, TimeMixin{}}
}

// Fields of the BankCard.
func (BankCard) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.String("token").Sensitive().NotEmpty().Immutable(),
		field.String("last4").MinLen(4).MaxLen(4).Immutable().
			Comment("The last four digits of the card number, the only digits danbao keeps."),
		field.String("brand").MaxLen(20).Immutable().
			Comment("The card network from the number's leading digits: visa, mastercard, unionpay, amex or unknown."),
		field.String("holder_name").MaxLen(100).Sensitive().
			Comment("Plaintext holder name of cards linked before migration 0007; emptied by the start-up backfill (wallet.SealHolderNames) and never written since.").
			Annotations(entgql.Skip()),
		field.String("masked_holder_name").MaxRuneLen(100).Default("").
			Comment("The card holder's name masked for display, e.g. 李*; the whole name is stored only encrypted.").
			Annotations(entgql.MapsTo("holderName")),
		field.Bytes("holder_name_ciphertext").Optional().Nillable().Sensitive().
			Comment("The holder's name sealed with the identity keyring; null only for rows the backfill has not reached."),
		field.Int("key_version").Optional().Nillable().
			Comment("Version of the identity key that sealed holder_name_ciphertext.").
			Annotations(entgql.Skip()),
	}
}

// Annotations of the BankCard.
func (BankCard) Annotations() []schema.Annotation {
	return []schema.Annotation{gqldoc.Type("A bank card linked for top-ups and withdrawals, in the user's verified legal name. The number itself is never stored: only the bank's token and the last four digits.")}
}

// Indexes of the BankCard.
func (BankCard) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}
