DROP INDEX "chat"."messages_tsv_idx";--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "chat"."messages" USING gin ((ARRAY["conversation_id"]),"tsv");--> statement-breakpoint
CREATE INDEX "messages_with_files_idx" ON "chat"."messages" USING btree ("conversation_id","seq") WHERE cardinality("chat"."messages"."attachments") > 0;