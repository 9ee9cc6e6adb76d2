ALTER TABLE "auth"."refresh_tokens" ADD COLUMN "successor_box" text;--> statement-breakpoint
CREATE UNIQUE INDEX "refresh_tokens_parent_key" ON "auth"."refresh_tokens" USING btree ("parent_id");--> statement-breakpoint
CREATE INDEX "refresh_tokens_box_idx" ON "auth"."refresh_tokens" USING btree ("used_at") WHERE "auth"."refresh_tokens"."successor_box" IS NOT NULL;