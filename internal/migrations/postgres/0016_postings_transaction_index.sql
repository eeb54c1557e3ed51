CREATE INDEX "posting_transaction_id" ON "postings" ("transaction_id");
