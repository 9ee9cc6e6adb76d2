CREATE TABLE "files"."audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"file_id" uuid,
	"actor_id" uuid,
	"request_id" text,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "files"."files" ADD COLUMN "key_id" text;--> statement-breakpoint
ALTER TABLE "files"."files" ADD COLUMN "wrapped_key" text;--> statement-breakpoint
CREATE INDEX "audit_events_kind_at_idx" ON "files"."audit_events" USING btree ("kind","at");--> statement-breakpoint
CREATE INDEX "files_key_id_idx" ON "files"."files" USING btree ("key_id");--> statement-breakpoint
ALTER TABLE "files"."files" ADD CONSTRAINT "files_key_complete" CHECK (("files"."files"."key_id" IS NULL) = ("files"."files"."wrapped_key" IS NULL));