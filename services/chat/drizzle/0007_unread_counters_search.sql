DROP INDEX "chat"."messages_tsv_idx";--> statement-breakpoint
ALTER TABLE "chat"."conversations" ADD COLUMN "message_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."members" ADD COLUMN "read_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "chat"."messages" USING gin ((ARRAY["conversation_id"]),"tsv");--> statement-breakpoint
CREATE INDEX "messages_with_files_idx" ON "chat"."messages" USING btree ("conversation_id","seq") WHERE cardinality("chat"."messages"."attachments") > 0;--> statement-breakpoint
-- Written by hand (drizzle-kit generates the statements above): the counters of existing rows, so
-- every unread count stays what the per-request count said before this migration.
UPDATE "chat"."conversations" c SET "message_count" = n.count
FROM (SELECT conversation_id, count(*)::int AS count FROM "chat"."messages" GROUP BY conversation_id) n
WHERE n.conversation_id = c.id;--> statement-breakpoint
UPDATE "chat"."members" m SET "read_count" = (
  SELECT count(*)::int FROM "chat"."messages" msg WHERE msg.conversation_id = m.conversation_id AND msg.seq <= m.last_read_seq
)
WHERE m.last_read_seq > 0;
