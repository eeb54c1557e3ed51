ALTER TABLE "webhooks" ADD COLUMN "deleted_at" timestamptz NULL;
