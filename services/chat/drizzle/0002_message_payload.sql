ALTER TABLE "chat"."messages" ADD COLUMN "payload" text DEFAULT '' NOT NULL;--> statement-breakpoint
-- Written by hand (drizzle-kit generates the column above): the trigger that keeps `payload` equal to
-- the message's API JSON (MessageSchema, the same shape toMessage() builds), whatever writes the row.
CREATE FUNCTION "chat"."message_payload"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.payload := json_build_object(
    'id', NEW.id, 'conversationId', NEW.conversation_id, 'senderId', NEW.sender_id,
    'author', CASE WHEN NEW.author_kind = 'agent' THEN json_build_object('kind', 'agent', 'agentRunId', NEW.agent_run_id) ELSE json_build_object('kind', 'user') END,
    'text', NEW.text, 'clientMessageId', NEW.client_message_id, 'attachments', to_json(NEW.attachments),
    'createdAt', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'editedAt', to_char(NEW.edited_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  )::text;
  RETURN NEW;
END
$$;--> statement-breakpoint
CREATE TRIGGER "messages_payload" BEFORE INSERT OR UPDATE ON "chat"."messages" FOR EACH ROW EXECUTE FUNCTION "chat"."message_payload"();--> statement-breakpoint
-- Existing messages: the update fires the trigger.
UPDATE "chat"."messages" SET "payload" = '';
