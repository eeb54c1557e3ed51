-- Webhook signing keys are sealed with the identity keyring like card
-- holder names. Existing rows keep their plain key until the start-up
-- backfill (webhook.SealSecrets) encrypts it and empties secret.
ALTER TABLE "webhooks" ADD COLUMN "secret_ciphertext" bytea NULL, ADD COLUMN "key_version" bigint NULL;
