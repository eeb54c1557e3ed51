CREATE TABLE `new_counters` (`id` text NOT NULL, `value` integer NOT NULL DEFAULT (0), `hash` blob NULL, `stamped_us` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
INSERT INTO `new_counters` (`id`, `value`, `hash`) SELECT `id`, `value`, `hash` FROM `counters`;
DROP TABLE `counters`;
ALTER TABLE `new_counters` RENAME TO `counters`;
CREATE INDEX `posting_account_id_created_at_seq` ON `postings` (`account_id`, `created_at`, `seq`);
