CREATE TABLE `auth_sessions` (`id` text NOT NULL, `user_id` text NOT NULL, `passkey_id` text NULL, `created_at` datetime NOT NULL, `refreshed_at` datetime NULL, `revoked_at` datetime NULL, PRIMARY KEY (`id`));
CREATE INDEX `authsession_user_id` ON `auth_sessions` (`user_id`);
CREATE INDEX `authsession_passkey_id` ON `auth_sessions` (`passkey_id`);
-- One session per existing refresh-token family, so that signed-in devices
-- keep refreshing; a family whose every token is revoked is a revoked session.
INSERT INTO `auth_sessions` (`id`, `user_id`, `created_at`, `revoked_at`)
SELECT `family_id`, MIN(`user_id`), MIN(`created_at`),
       CASE WHEN COUNT(*) = COUNT(`revoked_at`) THEN MAX(`revoked_at`) END
FROM `refresh_tokens` GROUP BY `family_id`;
