-- Card holder names are sealed like other identity data. Existing rows keep
-- their plain text until the start-up backfill (wallet.SealHolderNames)
-- encrypts it, fills masked_holder_name and empties holder_name.
ALTER TABLE `bank_cards` ADD COLUMN `masked_holder_name` text NOT NULL DEFAULT ('');
ALTER TABLE `bank_cards` ADD COLUMN `holder_name_ciphertext` blob NULL;
ALTER TABLE `bank_cards` ADD COLUMN `key_version` integer NULL;
