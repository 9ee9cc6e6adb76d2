CREATE TABLE "auth"."oidc_logout_tokens" (
	"issuer" text NOT NULL,
	"jti" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "oidc_logout_tokens_issuer_jti_pk" PRIMARY KEY("issuer","jti")
);
--> statement-breakpoint
ALTER TABLE "auth"."mfa_tickets" ADD COLUMN "oidc_issuer" text;--> statement-breakpoint
ALTER TABLE "auth"."mfa_tickets" ADD COLUMN "oidc_subject" text;--> statement-breakpoint
ALTER TABLE "auth"."mfa_tickets" ADD COLUMN "oidc_sid" text;--> statement-breakpoint
CREATE INDEX "oidc_logout_tokens_expires_idx" ON "auth"."oidc_logout_tokens" USING btree ("expires_at");