CREATE SCHEMA IF NOT EXISTS "files";
--> statement-breakpoint
CREATE TABLE "files"."files" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner_id" uuid NOT NULL,
	"conversation_id" uuid,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"size" bigint NOT NULL,
	"sha256" text NOT NULL,
	"status" text NOT NULL,
	"scan_signature" text,
	"scanned_at" timestamp with time zone,
	"scan_attempts" integer DEFAULT 0 NOT NULL,
	"scan_next_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "files_size_positive" CHECK ("files"."files"."size" > 0),
	CONSTRAINT "files_status_known" CHECK ("files"."files"."status" IN ('pending', 'clean', 'infected', 'unscanned')),
	CONSTRAINT "files_sha256_hex" CHECK ("files"."files"."sha256" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "files"."usage" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"used_bytes" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_non_negative" CHECK ("files"."usage"."used_bytes" >= 0)
);
--> statement-breakpoint
CREATE INDEX "files_owner_created_idx" ON "files"."files" USING btree ("owner_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "files_conversation_idx" ON "files"."files" USING btree ("conversation_id");--> statement-breakpoint
CREATE INDEX "files_pending_idx" ON "files"."files" USING btree ("scan_next_at") WHERE "files"."files"."status" = 'pending';