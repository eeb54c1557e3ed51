CREATE INDEX "payment_payer_id_paid_at" ON "payments" ("payer_id", "paid_at");
