DROP INDEX `payment_status_authorize_by`;
DROP INDEX `payment_status_ship_by`;
DROP INDEX `payment_status_auto_confirm_at`;
DROP INDEX `payment_status_refund_answer_by`;
CREATE INDEX `payment_status_authorize_by` ON `payments` (`status`, `authorize_by`) WHERE authorize_by IS NOT NULL;
CREATE INDEX `payment_status_ship_by` ON `payments` (`status`, `ship_by`) WHERE ship_by IS NOT NULL;
CREATE INDEX `payment_status_auto_confirm_at` ON `payments` (`status`, `auto_confirm_at`) WHERE auto_confirm_at IS NOT NULL;
CREATE INDEX `payment_status_refund_answer_by` ON `payments` (`status`, `refund_answer_by`) WHERE refund_answer_by IS NOT NULL;
