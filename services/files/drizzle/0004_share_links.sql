CREATE TABLE "files"."share_links" (
	"id" uuid PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"kind" text DEFAULT 'file' NOT NULL,
	"file_id" uuid,
	"conversation_id" uuid,
	"snapshot" jsonb,
	"creator_id" uuid NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"max_uses" integer,
	"uses" integer DEFAULT 0 NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	"revoked_by" uuid,
	CONSTRAINT "share_links_token_hash_unique" UNIQUE("token_hash"),
	CONSTRAINT "share_links_token_hash_hex" CHECK ("files"."share_links"."token_hash" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "share_links_uses_bounded" CHECK ("files"."share_links"."max_uses" IS NULL OR "files"."share_links"."uses" <= "files"."share_links"."max_uses"),
	CONSTRAINT "share_links_kind_target" CHECK (("files"."share_links"."kind" = 'file' AND "files"."share_links"."file_id" IS NOT NULL AND "files"."share_links"."conversation_id" IS NULL AND "files"."share_links"."snapshot" IS NULL) OR ("files"."share_links"."kind" = 'conversation' AND "files"."share_links"."file_id" IS NULL AND "files"."share_links"."conversation_id" IS NOT NULL AND "files"."share_links"."snapshot" IS NOT NULL))
);
--> statement-breakpoint
CREATE INDEX "share_links_creator_idx" ON "files"."share_links" USING btree ("creator_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "share_links_file_idx" ON "files"."share_links" USING btree ("file_id");