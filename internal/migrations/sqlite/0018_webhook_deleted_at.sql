ALTER TABLE `webhooks` ADD COLUMN `deleted_at` datetime NULL;
