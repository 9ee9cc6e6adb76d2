import { index, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { auth, users } from './schema.js'

/**
 * Accounts' identities at OpenID providers: (issuer, subject) is the identity, never the email
 * (an address can change hands at a provider; a subject cannot). `email` is only shown.
 */
export const oidcIdentities = auth.table(
  'oidc_identities',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    email: text('email'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('oidc_identities_sub_key').on(t.issuer, t.subject), index('oidc_identities_user_idx').on(t.userId)]
)

/**
 * One authorization-code flow in progress: found by the sha256 of its browser cookie, single use,
 * dead after OIDC_FLOW_TTL_SECONDS. A `link` flow is bound to the session that started it.
 */
export const oidcFlows = auth.table(
  'oidc_flows',
  {
    id: uuid('id').primaryKey(),
    cookieHash: text('cookie_hash').notNull(),
    provider: text('provider').notNull(),
    state: text('state').notNull(),
    nonce: text('nonce').notNull(),
    codeVerifier: text('code_verifier').notNull(),
    intent: text('intent').notNull(),
    next: text('next').notNull(),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    sessionId: uuid('session_id'),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('oidc_flows_cookie_key').on(t.cookieHash), index('oidc_flows_expires_idx').on(t.expiresAt)]
)

/**
 * Which provider sign-in started a Palisade session (and the provider's `sid`, when it sent one),
 * so that a back-channel logout from the provider can find the sessions it ends.
 */
export const oidcSessions = auth.table(
  'oidc_sessions',
  {
    sessionId: uuid('session_id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    sid: text('sid'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
  },
  (t) => [index('oidc_sessions_sub_idx').on(t.issuer, t.subject), index('oidc_sessions_sid_idx').on(t.issuer, t.sid)]
)

/**
 * The `jti` of every back-channel logout token accepted, until the token could no longer pass the
 * age check anyway: the same token posted again is refused.
 */
export const oidcLogoutTokens = auth.table(
  'oidc_logout_tokens',
  {
    issuer: text('issuer').notNull(),
    jti: text('jti').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull()
  },
  (t) => [primaryKey({ columns: [t.issuer, t.jti] }), index('oidc_logout_tokens_expires_idx').on(t.expiresAt)]
)
