ALTER TABLE "files"."files" ADD COLUMN "width" integer;--> statement-breakpoint
ALTER TABLE "files"."files" ADD COLUMN "height" integer;--> statement-breakpoint
ALTER TABLE "files"."files" ADD CONSTRAINT "files_dimensions_complete" CHECK (("files"."files"."width" IS NULL) = ("files"."files"."height" IS NULL));--> statement-breakpoint
ALTER TABLE "files"."files" ADD CONSTRAINT "files_dimensions_positive" CHECK ("files"."files"."width" IS NULL OR ("files"."files"."width" > 0 AND "files"."files"."height" > 0));