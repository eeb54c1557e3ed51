CREATE TABLE "login_throttles" ("id" character varying NOT NULL, "failures" bigint NOT NULL DEFAULT 0, "locked_until" timestamptz NULL, "updated_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
CREATE TABLE "users" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "phone" character varying NOT NULL, "password_hash" character varying NOT NULL, "display_name" character varying NOT NULL, "role" character varying NOT NULL DEFAULT 'USER', PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "users_phone_key" ON "users" ("phone");
CREATE TABLE "refresh_tokens" ("id" character varying NOT NULL, "family_id" character varying NOT NULL, "token_hash" bytea NOT NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, "used_at" timestamptz NULL, "revoked_at" timestamptz NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "refresh_tokens_users_refresh_tokens" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE NO ACTION);
CREATE UNIQUE INDEX "refresh_tokens_token_hash_key" ON "refresh_tokens" ("token_hash");
CREATE INDEX "refreshtoken_family_id" ON "refresh_tokens" ("family_id");
