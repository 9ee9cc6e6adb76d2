-- Written by hand (no schema change drizzle-kit could see): what "my conversations" shows changes
-- with a member row (read markers move read_count; joining, leaving, notification level) and with a
-- conversation row (title, topic, archiving, owner), besides its messages. A member row announces
-- `u:<user id>` on `chat_changes`, a conversation row its id unless only a new message moved its
-- activity (the message announces that), so chat instances drop the cached list of that user, or
-- of every member of that conversation (src/lib/conversation-list-cache.ts). PostgreSQL sends them
-- at commit and merges repeats within one transaction.
CREATE FUNCTION "chat"."notify_member_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('chat_changes', 'u:' || OLD.user_id::text);
  ELSE
    PERFORM pg_notify('chat_changes', 'u:' || NEW.user_id::text);
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE FUNCTION "chat"."notify_conversation_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('chat_changes', NEW.id::text);
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "members_notify_user" AFTER INSERT OR UPDATE OR DELETE ON "chat"."members" FOR EACH ROW EXECUTE FUNCTION "chat"."notify_member_change"();--> statement-breakpoint
CREATE TRIGGER "conversations_notify_update" AFTER UPDATE ON "chat"."conversations" FOR EACH ROW WHEN (OLD."activity_seq" IS NOT DISTINCT FROM NEW."activity_seq") EXECUTE FUNCTION "chat"."notify_conversation_update"();
