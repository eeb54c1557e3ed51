CREATE TABLE `login_throttles` (`id` text NOT NULL, `failures` integer NOT NULL DEFAULT (0), `locked_until` datetime NULL, `updated_at` datetime NOT NULL, PRIMARY KEY (`id`));
CREATE TABLE `refresh_tokens` (`id` text NOT NULL, `family_id` text NOT NULL, `token_hash` blob NOT NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `used_at` datetime NULL, `revoked_at` datetime NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `refresh_tokens_users_refresh_tokens` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
CREATE UNIQUE INDEX `refresh_tokens_token_hash_key` ON `refresh_tokens` (`token_hash`);
CREATE INDEX `refreshtoken_family_id` ON `refresh_tokens` (`family_id`);
CREATE TABLE `users` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `phone` text NOT NULL, `password_hash` text NOT NULL, `display_name` text NOT NULL, `role` text NOT NULL DEFAULT ('USER'), PRIMARY KEY (`id`));
CREATE UNIQUE INDEX `users_phone_key` ON `users` (`phone`);
