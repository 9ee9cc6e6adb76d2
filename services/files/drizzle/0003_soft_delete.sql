ALTER TABLE "files"."files" ADD COLUMN "deleted_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "files"."files" ADD COLUMN "deleted_by" uuid;--> statement-breakpoint
ALTER TABLE "files"."files" ADD COLUMN "delete_reason" text;--> statement-breakpoint
CREATE INDEX "files_deleted_idx" ON "files"."files" USING btree ("deleted_at") WHERE "files"."files"."deleted_at" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "files"."files" ADD CONSTRAINT "files_delete_reason_known" CHECK ("files"."files"."delete_reason" IS NULL OR "files"."files"."delete_reason" IN ('owner', 'conversation'));--> statement-breakpoint
ALTER TABLE "files"."files" ADD CONSTRAINT "files_delete_complete" CHECK (("files"."files"."deleted_at" IS NULL) = ("files"."files"."delete_reason" IS NULL));