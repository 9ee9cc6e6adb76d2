-- Written by hand (no schema change drizzle-kit could see): every change to a conversation's
-- messages or members is announced on the `chat_changes` channel with the conversation id. PostgreSQL
-- sends it at commit (never for a rolled-back change) and merges repeats within one transaction, so
-- deleting a conversation with 10 000 messages sends one. Chat instances drop their cached snapshot
-- of that conversation (src/lib/message-cache.ts). Member rows are only inserted and deleted; their
-- updates (read markers) change nothing a message page shows, so they are not announced.
CREATE FUNCTION "chat"."notify_conversation_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('chat_changes', OLD.conversation_id::text);
  ELSE
    PERFORM pg_notify('chat_changes', NEW.conversation_id::text);
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "messages_notify" AFTER INSERT OR UPDATE OR DELETE ON "chat"."messages" FOR EACH ROW EXECUTE FUNCTION "chat"."notify_conversation_change"();--> statement-breakpoint
CREATE TRIGGER "members_notify" AFTER INSERT OR DELETE ON "chat"."members" FOR EACH ROW EXECUTE FUNCTION "chat"."notify_conversation_change"();
