DROP INDEX "chat"."messages_conversation_seq_idx";--> statement-breakpoint
ALTER TABLE "chat"."members" ADD COLUMN "last_read_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_conversation_seq_idx" ON "chat"."messages" USING btree ("conversation_id","seq","sender_id","author_kind");--> statement-breakpoint
-- Written by hand (drizzle-kit generates the statements above): members that exist before read
-- markers start with everything already in their conversations read. Until now unread counts lived
-- only in an open browser tab, so there is nothing better to restore, and a marker at 0 would light
-- every conversation up with its whole history. One index lookup per conversation.
UPDATE "chat"."members" m SET "last_read_seq" = latest.seq
FROM (SELECT c.id, (SELECT max(msg.seq) FROM "chat"."messages" msg WHERE msg.conversation_id = c.id) AS seq FROM "chat"."conversations" c) latest
WHERE latest.id = m.conversation_id AND latest.seq IS NOT NULL;
