CREATE TABLE "auth"."oidc_sessions" (
	"session_id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"issuer" text NOT NULL,
	"subject" text NOT NULL,
	"sid" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "auth"."oidc_sessions" ADD CONSTRAINT "oidc_sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "oidc_sessions_sub_idx" ON "auth"."oidc_sessions" USING btree ("issuer","subject");--> statement-breakpoint
CREATE INDEX "oidc_sessions_sid_idx" ON "auth"."oidc_sessions" USING btree ("issuer","sid");