ALTER TABLE "agents"."agents" ADD COLUMN "shared_conversation_id" uuid;--> statement-breakpoint
ALTER TABLE "agents"."runs" ADD COLUMN "agent_name" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX "agents_shared_idx" ON "agents"."agents" USING btree ("shared_conversation_id") WHERE shared_conversation_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "runs_conversation_created_idx" ON "agents"."runs" USING btree ("conversation_id","created_at","id");--> statement-breakpoint
UPDATE "agents"."runs" r SET "agent_name" = a."name" FROM "agents"."agents" a WHERE a."id" = r."agent_id" AND r."agent_name" = '';
