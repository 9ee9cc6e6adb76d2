-- Written by hand (no schema change drizzle-kit could see): what "my conversations" shows changes
-- with a member row (read markers move read_count; joining and leaving) and with a conversation's
-- title, besides its messages. A member row announces `u:<user id>` on `chat_changes`, a renamed
-- conversation its id, so chat instances drop the cached list of that user, or of every member of
-- that conversation (src/lib/conversation-list-cache.ts). PostgreSQL sends them at commit and merges
-- repeats within one transaction.
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
CREATE FUNCTION "chat"."notify_conversation_renamed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('chat_changes', NEW.id::text);
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "members_notify_user" AFTER INSERT OR UPDATE OR DELETE ON "chat"."members" FOR EACH ROW EXECUTE FUNCTION "chat"."notify_member_change"();--> statement-breakpoint
CREATE TRIGGER "conversations_notify_rename" AFTER UPDATE OF "title" ON "chat"."conversations" FOR EACH ROW WHEN (OLD."title" IS DISTINCT FROM NEW."title") EXECUTE FUNCTION "chat"."notify_conversation_renamed"();
