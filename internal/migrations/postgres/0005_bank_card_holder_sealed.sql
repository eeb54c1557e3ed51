-- Card holder names are sealed like other identity data. Existing rows keep
-- their plain text until the start-up backfill (wallet.SealHolderNames)
-- encrypts it, fills masked_holder_name and empties holder_name.
ALTER TABLE "bank_cards" ADD COLUMN "masked_holder_name" character varying NOT NULL DEFAULT '', ADD COLUMN "holder_name_ciphertext" bytea NULL, ADD COLUMN "key_version" bigint NULL;
