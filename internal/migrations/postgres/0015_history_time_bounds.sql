ALTER TABLE "counters" ADD COLUMN "stamped_us" bigint NOT NULL DEFAULT 0;
CREATE INDEX "posting_account_id_created_at_seq" ON "postings" ("account_id", "created_at", "seq");
