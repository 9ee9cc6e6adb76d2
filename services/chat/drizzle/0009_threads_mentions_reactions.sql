CREATE TABLE "chat"."mention_policies" (
	"conversation_id" uuid PRIMARY KEY NOT NULL,
	"allow_mass_mentions" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chat"."message_mentions" (
	"message_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"conversation_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "message_mentions_pkey" PRIMARY KEY("message_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "chat"."message_reactions" (
	"message_id" uuid NOT NULL,
	"emoji" text NOT NULL,
	"user_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "message_reactions_pkey" PRIMARY KEY("message_id","emoji","user_id")
);
--> statement-breakpoint
ALTER TABLE "chat"."messages" ADD COLUMN "parent_id" uuid;--> statement-breakpoint
ALTER TABLE "chat"."messages" ADD COLUMN "mentions" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."messages" ADD COLUMN "mass_mention" text;--> statement-breakpoint
ALTER TABLE "chat"."messages" ADD COLUMN "reply_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."messages" ADD COLUMN "repliers" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."messages" ADD COLUMN "last_reply_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "chat"."messages" ADD COLUMN "reactions" text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."mention_policies" ADD CONSTRAINT "mention_policies_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "chat"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat"."message_mentions" ADD CONSTRAINT "message_mentions_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "chat"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat"."message_reactions" ADD CONSTRAINT "message_reactions_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "chat"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "message_mentions_user_idx" ON "chat"."message_mentions" USING btree ("user_id","conversation_id","seq");--> statement-breakpoint
CREATE INDEX "messages_parent_seq_idx" ON "chat"."messages" USING btree ("parent_id","seq") WHERE "chat"."messages"."parent_id" is not null;--> statement-breakpoint
-- Written by hand: the stored API JSON of a message gains parentId, mentions, massMention, thread and
-- reactions (MessageSchema's order; test/message-shape.test.ts compares it with toMessage byte for
-- byte). `reactions` is already compact JSON text written by the service, embedded as it is.
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
        to_char(NEW.edited_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "editedAt",
        NEW.parent_id AS "parentId", to_json(NEW.mentions) AS "mentions", NEW.mass_mention AS "massMention",
        CASE WHEN NEW.reply_count > 0
          THEN (SELECT row_to_json(t) FROM (SELECT NEW.reply_count AS "replyCount", to_json(NEW.repliers) AS "repliers",
                to_char(NEW.last_reply_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "lastReplyAt") t)
        END AS "thread",
        NEW.reactions::json AS "reactions"
    ) m
  );
  RETURN NEW;
END
$$;--> statement-breakpoint
-- Existing messages: the update fires the trigger.
UPDATE "chat"."messages" SET "payload" = '';
