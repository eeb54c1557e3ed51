CREATE TABLE "auth_sessions" ("id" character varying NOT NULL, "user_id" character varying NOT NULL, "passkey_id" character varying NULL, "created_at" timestamptz NOT NULL, "refreshed_at" timestamptz NULL, "revoked_at" timestamptz NULL, PRIMARY KEY ("id"));
CREATE INDEX "authsession_user_id" ON "auth_sessions" ("user_id");
CREATE INDEX "authsession_passkey_id" ON "auth_sessions" ("passkey_id");
-- One session per existing refresh-token family, so that signed-in devices
-- keep refreshing; a family whose every token is revoked is a revoked session.
INSERT INTO "auth_sessions" ("id", "user_id", "created_at", "revoked_at")
SELECT "family_id", MIN("user_id"), MIN("created_at"),
       CASE WHEN COUNT(*) = COUNT("revoked_at") THEN MAX("revoked_at") END
FROM "refresh_tokens" GROUP BY "family_id";
