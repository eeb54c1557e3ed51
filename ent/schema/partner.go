package schema

import (
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PartnerApp is a marketplace that takes payments through danbao. It
// authenticates with OAuth 2.0 client credentials: its client_id, and a
// secret stored only as a hash (shown once, at creation or rotation).
type PartnerApp struct{ ent.Schema }

// Mixin of the PartnerApp.
func (PartnerApp) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: "pra"}, TimeMixin{}}
}

// Fields of the PartnerApp.
func (PartnerApp) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(100),
		field.String("client_id").NotEmpty().MaxLen(64).Unique().Immutable(),
		field.Bytes("secret_hash").NotEmpty().Sensitive().Comment("SHA-256 of the 32-byte random secret"),
		field.String("created_by").GoType(pulid.ID("")).Immutable().Comment("the operator who registered it"),
	}
}

// Annotations of the PartnerApp.
func (PartnerApp) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// PartnerConnection is a seller's consent that a partner app may create
// payments to them; revoking it ends that (revoked_at set).
type PartnerConnection struct{ ent.Schema }

// Mixin of the PartnerConnection.
func (PartnerConnection) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: "pco"}, TimeMixin{}}
}

// Fields of the PartnerConnection.
func (PartnerConnection) Fields() []ent.Field {
	return []ent.Field{
		field.String("partner_id").GoType(pulid.ID("")).Immutable(),
		field.String("seller_id").GoType(pulid.ID("")).Immutable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Indexes of the PartnerConnection.
func (PartnerConnection) Indexes() []ent.Index {
	return []ent.Index{index.Fields("partner_id", "seller_id").Unique(), index.Fields("seller_id")}
}

// Annotations of the PartnerConnection.
func (PartnerConnection) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Webhook is a partner's endpoint for events, signed with its secret in
// the Standard Webhooks format.
type Webhook struct{ ent.Schema }

// Mixin of the Webhook.
func (Webhook) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: "whk"}, TimeMixin{}}
}

// Fields of the Webhook.
func (Webhook) Fields() []ent.Field {
	return []ent.Field{
		field.String("partner_id").GoType(pulid.ID("")).Immutable(),
		field.String("url").NotEmpty().MaxLen(2048).Immutable(),
		field.Strings("event_types").Comment("event types delivered, e.g. payment.paid; payment.* for all payment events"),
		field.Bytes("secret").Sensitive().
			Comment("Plaintext signing key of webhooks registered before migration 0010; emptied by the start-up backfill (webhook.SealSecrets) and never written since."),
		field.Bytes("secret_ciphertext").Optional().Nillable().Sensitive().
			Comment("The signing key (the base64 part of whsec_...) sealed with the identity keyring; null only for rows the backfill has not reached."),
		field.Int("key_version").Optional().Nillable().
			Comment("Version of the identity key that sealed secret_ciphertext."),
		field.Bool("disabled").Default(false),
		field.Time("deleted_at").Optional().Nillable().
			Comment("Set by deleteWebhook (with disabled): the partner no longer sees it; the maintenance loop deletes its deliveries, then the row (webhook.PurgeDeleted)."),
	}
}

// Indexes of the Webhook.
func (Webhook) Indexes() []ent.Index {
	return []ent.Index{index.Fields("partner_id")}
}

// Annotations of the Webhook.
func (Webhook) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// WebhookDelivery is one event to send to one webhook: written by the
// fan-out that follows the outbox, claimed by a sender with a lease
// (lease_until), retried on the configured schedule until a 2xx or the
// schedule runs out.
type WebhookDelivery struct{ ent.Schema }

// Mixin of the WebhookDelivery.
func (WebhookDelivery) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: "whd"}, TimeMixin{}}
}

// Fields of the WebhookDelivery.
func (WebhookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.String("webhook_id").GoType(pulid.ID("")).Immutable(),
		field.String("event_id").GoType(pulid.ID("")).Immutable(),
		field.Int64("event_seq").Immutable(),
		field.String("event_type").MaxLen(60).Immutable(),
		field.Enum("status").Values("PENDING", "SUCCEEDED", "FAILED").Default("PENDING"),
		field.Int("attempts").Default(0).NonNegative(),
		field.Time("next_attempt_at").Optional().Nillable().Comment("when the next attempt is due; null once settled"),
		field.Time("lease_until").Optional().Nillable().Comment("a sender holds the delivery until then"),
		field.Int("last_status_code").Optional().Nillable(),
		field.Int("last_latency_ms").Optional().Nillable(),
		field.String("last_error").Optional().MaxLen(300),
		field.Time("last_attempt_at").Optional().Nillable(),
	}
}

// Indexes of the WebhookDelivery.
func (WebhookDelivery) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("webhook_id", "event_id").Unique(),
		index.Fields("status", "next_attempt_at"),
	}
}

// Annotations of the WebhookDelivery.
func (WebhookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
