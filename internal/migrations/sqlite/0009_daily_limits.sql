CREATE TABLE `daily_limits` (`id` text NOT NULL, `currency` text NOT NULL, `limit_minor` integer NOT NULL, `updated_at` datetime NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `daily_limits_users_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
CREATE UNIQUE INDEX `dailylimit_user_id_currency` ON `daily_limits` (`user_id`, `currency`);
