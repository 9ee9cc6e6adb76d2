CREATE SCHEMA IF NOT EXISTS "chat";
--> statement-breakpoint
CREATE SEQUENCE "chat"."activity_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "chat"."conversations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"title" text NOT NULL,
	"owner_id" uuid NOT NULL,
	"member_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_activity_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activity_seq" bigint DEFAULT nextval('chat.activity_seq') NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chat"."members" (
	"conversation_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" text NOT NULL,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "members_pkey" PRIMARY KEY("conversation_id","user_id"),
	CONSTRAINT "members_role_check" CHECK ("chat"."members"."role" in ('owner', 'member'))
);
--> statement-breakpoint
CREATE TABLE "chat"."messages" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "chat"."messages_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"conversation_id" uuid NOT NULL,
	"sender_id" uuid NOT NULL,
	"author_kind" text DEFAULT 'user' NOT NULL,
	"agent_run_id" uuid,
	"text" text NOT NULL,
	"client_message_id" text NOT NULL,
	"attachments" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"edited_at" timestamp with time zone,
	"tsv" "tsvector" GENERATED ALWAYS AS (to_tsvector('english'::regconfig, "text")) STORED NOT NULL,
	CONSTRAINT "messages_author_check" CHECK (("chat"."messages"."author_kind" = 'user' and "chat"."messages"."agent_run_id" is null) or ("chat"."messages"."author_kind" = 'agent' and "chat"."messages"."agent_run_id" is not null))
);
--> statement-breakpoint
ALTER TABLE "chat"."members" ADD CONSTRAINT "members_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "chat"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat"."messages" ADD CONSTRAINT "messages_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "chat"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "conversations_activity_seq_key" ON "chat"."conversations" USING btree ("activity_seq");--> statement-breakpoint
CREATE INDEX "members_user_idx" ON "chat"."members" USING btree ("user_id","conversation_id");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_id_key" ON "chat"."messages" USING btree ("id");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_client_id_key" ON "chat"."messages" USING btree ("conversation_id","sender_id","client_message_id");--> statement-breakpoint
CREATE INDEX "messages_conversation_seq_idx" ON "chat"."messages" USING btree ("conversation_id","seq");--> statement-breakpoint
CREATE INDEX "messages_tsv_idx" ON "chat"."messages" USING gin ("tsv");