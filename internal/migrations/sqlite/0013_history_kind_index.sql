CREATE INDEX `posting_account_id_kind_seq_id` ON `postings` (`account_id`, `kind`, `seq`, `id`);
