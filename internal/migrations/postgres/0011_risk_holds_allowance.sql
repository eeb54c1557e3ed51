ALTER TABLE "passkey_sessions" ADD COLUMN "bank_card_id" character varying NULL;
ALTER TABLE "payments" ADD COLUMN "risk_decision" character varying NULL, ADD COLUMN "risk_reasons" jsonb NULL;
ALTER TABLE "users" ADD COLUMN "password_changed_at" timestamptz NULL, ADD COLUMN "contact_changed_at" timestamptz NULL;
ALTER TABLE "withdrawals" ADD COLUMN "risk_decision" character varying NULL, ADD COLUMN "risk_reasons" jsonb NULL, ADD COLUMN "password_free" boolean NOT NULL DEFAULT false;
CREATE TABLE "password_free_allowances" ("id" character varying NOT NULL, "user_id" character varying NOT NULL, "enabled" boolean NOT NULL DEFAULT false, "per_payment_minor" bigint NOT NULL, "daily_minor" bigint NOT NULL, "updated_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "password_free_allowances_user_id_key" ON "password_free_allowances" ("user_id");
CREATE TABLE "risk_holds" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "subject_id" character varying NOT NULL, "user_id" character varying NOT NULL, "amount" bigint NOT NULL, "currency" character varying NOT NULL, "reasons" jsonb NOT NULL, "status" character varying NOT NULL DEFAULT 'HELD', "decided_by" character varying NULL, "decided_at" timestamptz NULL, "note" character varying NULL, PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "risk_holds_subject_id_key" ON "risk_holds" ("subject_id");
CREATE INDEX "riskhold_status_created_at" ON "risk_holds" ("status", "created_at");
