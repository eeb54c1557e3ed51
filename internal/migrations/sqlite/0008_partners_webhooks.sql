-- Partner apps, seller connections, webhooks and their deliveries; events may name the partner app that sees them.
ALTER TABLE `events` ADD COLUMN `partner_id` text NULL;
CREATE INDEX `event_partner_id_seq` ON `events` (`partner_id`, `seq`);
CREATE TABLE `partner_apps` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `client_id` text NOT NULL, `secret_hash` blob NOT NULL, `created_by` text NOT NULL, PRIMARY KEY (`id`));
CREATE UNIQUE INDEX `partner_apps_client_id_key` ON `partner_apps` (`client_id`);
CREATE TABLE `partner_connections` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `partner_id` text NOT NULL, `seller_id` text NOT NULL, `revoked_at` datetime NULL, PRIMARY KEY (`id`));
CREATE UNIQUE INDEX `partnerconnection_partner_id_seller_id` ON `partner_connections` (`partner_id`, `seller_id`);
CREATE INDEX `partnerconnection_seller_id` ON `partner_connections` (`seller_id`);
CREATE TABLE `webhooks` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `partner_id` text NOT NULL, `url` text NOT NULL, `event_types` json NOT NULL, `secret` blob NOT NULL, `disabled` bool NOT NULL DEFAULT (false), PRIMARY KEY (`id`));
CREATE INDEX `webhook_partner_id` ON `webhooks` (`partner_id`);
CREATE TABLE `webhook_deliveries` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `webhook_id` text NOT NULL, `event_id` text NOT NULL, `event_seq` integer NOT NULL, `event_type` text NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `attempts` integer NOT NULL DEFAULT (0), `next_attempt_at` datetime NULL, `lease_until` datetime NULL, `last_status_code` integer NULL, `last_latency_ms` integer NULL, `last_error` text NULL, `last_attempt_at` datetime NULL, PRIMARY KEY (`id`));
CREATE UNIQUE INDEX `webhookdelivery_webhook_id_event_id` ON `webhook_deliveries` (`webhook_id`, `event_id`);
CREATE INDEX `webhookdelivery_status_next_attempt_at` ON `webhook_deliveries` (`status`, `next_attempt_at`);
