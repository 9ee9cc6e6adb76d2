-- Written by hand (no schema change drizzle-kit could see): the stored API JSON of a message without
-- the blanks json_build_object puts around every ':' and after every ',' (` : `, `, `). row_to_json
-- writes compact JSON, in the column order given, as JSON.stringify would: on a 50-message page that
-- is ~1.5 KB (8 %) less to send and to parse on every read.
CREATE OR REPLACE FUNCTION "chat"."message_payload"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.payload := (
    SELECT row_to_json(m)::text FROM (
      SELECT NEW.id AS "id", NEW.conversation_id AS "conversationId", NEW.sender_id AS "senderId",
        CASE WHEN NEW.author_kind = 'agent'
          THEN (SELECT row_to_json(a) FROM (SELECT 'agent' AS "kind", NEW.agent_run_id AS "agentRunId") a)
          ELSE (SELECT row_to_json(a) FROM (SELECT 'user' AS "kind") a)
        END AS "author",
        NEW.text AS "text", NEW.client_message_id AS "clientMessageId", to_json(NEW.attachments) AS "attachments",
        to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
        to_char(NEW.edited_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "editedAt"
    ) m
  );
  RETURN NEW;
END
$$;--> statement-breakpoint
-- Existing messages: the update fires the trigger.
UPDATE "chat"."messages" SET "payload" = '';
