-- Partner apps, seller connections, webhooks and their deliveries; events may name the partner app that sees them.
ALTER TABLE "events" ADD COLUMN "partner_id" character varying NULL;
CREATE INDEX "event_partner_id_seq" ON "events" ("partner_id", "seq");
CREATE TABLE "partner_apps" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "client_id" character varying NOT NULL, "secret_hash" bytea NOT NULL, "created_by" character varying NOT NULL, PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "partner_apps_client_id_key" ON "partner_apps" ("client_id");
CREATE TABLE "partner_connections" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "partner_id" character varying NOT NULL, "seller_id" character varying NOT NULL, "revoked_at" timestamptz NULL, PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "partnerconnection_partner_id_seller_id" ON "partner_connections" ("partner_id", "seller_id");
CREATE INDEX "partnerconnection_seller_id" ON "partner_connections" ("seller_id");
CREATE TABLE "webhooks" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "partner_id" character varying NOT NULL, "url" character varying NOT NULL, "event_types" jsonb NOT NULL, "secret" bytea NOT NULL, "disabled" boolean NOT NULL DEFAULT false, PRIMARY KEY ("id"));
CREATE INDEX "webhook_partner_id" ON "webhooks" ("partner_id");
CREATE TABLE "webhook_deliveries" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "webhook_id" character varying NOT NULL, "event_id" character varying NOT NULL, "event_seq" bigint NOT NULL, "event_type" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "attempts" bigint NOT NULL DEFAULT 0, "next_attempt_at" timestamptz NULL, "lease_until" timestamptz NULL, "last_status_code" bigint NULL, "last_latency_ms" bigint NULL, "last_error" character varying NULL, "last_attempt_at" timestamptz NULL, PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "webhookdelivery_webhook_id_event_id" ON "webhook_deliveries" ("webhook_id", "event_id");
CREATE INDEX "webhookdelivery_status_next_attempt_at" ON "webhook_deliveries" ("status", "next_attempt_at");
