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

// Passkey is one WebAuthn credential registered to a user: the credential
// record of WebAuthn §4 (ID, public key, signature counter, flags) plus what
// danbao decides about it (nickname, clone suspicion, revocation).
//
// Rows are never deleted: a revoked passkey stays, so that payment evidence
// naming its credential ID can still be traced, and so that its credential
// ID can never be registered again (credential_id is unique over all rows).
type Passkey struct{ ent.Schema }

// Mixin of the Passkey.
func (Passkey) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixPasskey}, TimeMixin{}}
}

// Fields of the Passkey.
func (Passkey) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.Bytes("credential_id").NotEmpty().MaxLen(1023).Unique().Immutable().
			Comment("the raw credential ID (rawId)").
			Annotations(entgql.Skip()),
		field.Bytes("public_key").NotEmpty().Immutable().
			Comment("the credential public key, COSE_Key as the authenticator sent it").
			Annotations(entgql.Skip()),
		field.String("rp_id").NotEmpty().Immutable().
			Comment("the RP ID the credential was registered for").
			Annotations(entgql.Skip()),
		field.String("nickname").NotEmpty().MaxRuneLen(64).
			Comment("the user's name for the passkey, e.g. \"Pixel 9\""),
		field.String("attestation_format").Default("none").Immutable().
			Annotations(entgql.Skip()),
		field.String("attestation_type").Default("none").Immutable().
			Annotations(entgql.Skip()),
		field.Bytes("aaguid").Optional().Immutable().
			Annotations(entgql.Skip()),
		field.Strings("transports").Optional().
			Comment("how the client can reach the authenticator: internal, hybrid, usb, nfc, ble"),
		field.String("authenticator_attachment").Optional().
			Comment("platform or cross-platform, as the client reported at registration"),
		field.Int("flags").NonNegative().Max(255).
			Comment("the authenticator data flags of the last use (UP 0x01, UV 0x04, BE 0x08, BS 0x10)").
			Annotations(entgql.Skip()),
		field.Bool("user_verified").Default(false).
			Comment("whether user verification was ever performed with this credential"),
		field.Bool("backup_eligible").Default(false).Immutable().
			Comment("the credential may be synced to other devices (BE flag; never changes)"),
		field.Bool("backed_up").Default(false).
			Comment("the credential is synced (BS flag of the last use)"),
		field.Int64("sign_count").Default(0).NonNegative().
			Comment("the signature counter of the last use; 0 for authenticators without one"),
		field.Bool("clone_suspected").Default(false).
			Comment("a signature counter went backwards: two copies of the key may exist, so the passkey can no longer move money"),
		field.Time("clone_suspected_at").Optional().Nillable().
			Comment("when the signature counter went backwards; null unless cloneSuspected"),
		field.Time("last_used_at").Optional().Nillable().
			Comment("when the passkey last signed in or authorized a payment; null if never used"),
		field.Time("revoked_at").Optional().Nillable().
			Comment("when the user revoked the passkey; revoked passkeys neither sign in nor authorize"),
		field.Bytes("attestation").Optional().Immutable().Sensitive().
			Comment("the registration's raw attestation (go-webauthn CredentialAttestation as JSON), kept for later verification").
			Annotations(entgql.Skip()),
	}
}

// Edges of the Passkey.
func (Passkey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes of the Passkey.
func (Passkey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}

// Annotations of the Passkey.
func (Passkey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(),
		gqldoc.Type("A passkey (WebAuthn credential) the user registered: it signs in and authorizes payments with user verification (biometric or PIN). The private key never leaves the authenticator.")}
}
