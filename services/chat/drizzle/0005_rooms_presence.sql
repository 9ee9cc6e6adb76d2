CREATE TABLE "chat"."presence_instances" (
	"instance_id" uuid PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chat"."presence_sockets" (
	"user_id" uuid NOT NULL,
	"instance_id" uuid NOT NULL,
	"sockets" integer NOT NULL,
	CONSTRAINT "presence_sockets_pkey" PRIMARY KEY("user_id","instance_id")
);
--> statement-breakpoint
CREATE TABLE "chat"."presence_users" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"hidden" boolean DEFAULT false NOT NULL,
	"status" text DEFAULT 'offline' NOT NULL,
	"last_active_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "chat"."conversations" ADD COLUMN "topic" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."conversations" ADD COLUMN "archived_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "chat"."members" ADD COLUMN "notify_level" text DEFAULT 'all' NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."presence_sockets" ADD CONSTRAINT "presence_sockets_instance_id_presence_instances_instance_id_fk" FOREIGN KEY ("instance_id") REFERENCES "chat"."presence_instances"("instance_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "presence_sockets_instance_idx" ON "chat"."presence_sockets" USING btree ("instance_id");--> statement-breakpoint
ALTER TABLE "chat"."members" ADD CONSTRAINT "members_notify_level_check" CHECK ("chat"."members"."notify_level" in ('all', 'mentions', 'none'));