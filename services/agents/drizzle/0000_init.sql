CREATE SCHEMA IF NOT EXISTS "agents";
--> statement-breakpoint
CREATE TABLE "agents"."agents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_id" uuid NOT NULL,
	"name" text NOT NULL,
	"instructions" text NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"tools" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"limits" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agents"."run_steps" (
	"run_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"kind" text NOT NULL,
	"data" jsonb NOT NULL,
	"duration_ms" integer,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_steps_run_id_seq_pk" PRIMARY KEY("run_id","seq")
);
--> statement-breakpoint
CREATE TABLE "agents"."runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"conversation_id" uuid NOT NULL,
	"status" text NOT NULL,
	"input" text NOT NULL,
	"output" text,
	"message_id" uuid,
	"failure_reason" text,
	"failure_detail" text,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"limits" jsonb NOT NULL,
	"usage" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp (3) with time zone
);
--> statement-breakpoint
ALTER TABLE "agents"."run_steps" ADD CONSTRAINT "run_steps_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "agents"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agents_owner_created_idx" ON "agents"."agents" USING btree ("owner_id","created_at","id");--> statement-breakpoint
CREATE INDEX "runs_user_created_idx" ON "agents"."runs" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "runs_agent_created_idx" ON "agents"."runs" USING btree ("agent_id","created_at","id");--> statement-breakpoint
CREATE INDEX "runs_active_user_idx" ON "agents"."runs" USING btree ("user_id") WHERE status = 'running';--> statement-breakpoint
CREATE INDEX "runs_active_heartbeat_idx" ON "agents"."runs" USING btree ("heartbeat_at") WHERE status = 'running';