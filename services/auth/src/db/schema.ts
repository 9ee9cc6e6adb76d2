import { sql } from 'drizzle-orm'
import { bigint, boolean, check, index, jsonb, pgSchema, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { outboxTable, rateLimitsTable } from '@palisade/platform'

/** Everything auth stores lives in its own schema; no other service reads it (they ask over NATS). */
export const auth = pgSchema('auth')

export const users = auth.table(
  'users',
  {
    id: uuid('id').primaryKey(),
    /** normalised: trimmed and lower-cased, so `A@x.io ` and `a@x.io` are one account */
    email: text('email').notNull(),
    displayName: text('display_name').notNull(),
    passwordHash: text('password_hash').notNull(),
    /** exactly one of `{member}` and `{admin}` (a check constraint); only auth assigns them */
    roles: text('roles').array().notNull().default(sql`'{member}'::text[]`),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    passwordChangedAt: timestamp('password_changed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** set by an administrator: no login, no refresh, every session revoked */
    disabledAt: timestamp('disabled_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('users_email_key').on(t.email), check('users_roles_check', sql`${t.roles} = '{member}'::text[] OR ${t.roles} = '{admin}'::text[]`)]
)

/**
 * Invitations to register (AUTH_REGISTRATION=invite): the token is stored only as sha256, used at
 * most once (`used_at` is set in the registering transaction), optionally bound to one address.
 */
export const invites = auth.table(
  'invites',
  {
    id: uuid('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    /** normalised like users.email; null = any address */
    email: text('email'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' }),
    usedBy: uuid('used_by').references(() => users.id, { onDelete: 'set null' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('invites_token_key').on(t.tokenHash), index('invites_created_idx').on(t.createdAt)]
)

/** One-time password-reset links an administrator issued (1 h, single use, stored as sha256). */
export const passwordResets = auth.table(
  'password_resets',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('password_resets_token_key').on(t.tokenHash), index('password_resets_user_idx').on(t.userId)]
)

/** One login = one session = one refresh-token family. Revoking it ends every token of the family. */
export const sessions = auth.table(
  'sessions',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** absolute end of the family: refresh never extends a session beyond it */
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    userAgent: text('user_agent').notNull().default(''),
    ip: text('ip').notNull().default(''),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    revokedReason: text('revoked_reason'),
    /** the session's last proof of the user (password, second factor, passkey, re-authentication): step-up reads it */
    authenticatedAt: timestamp('authenticated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
  },
  (t) => [index('sessions_user_idx').on(t.userId)]
)

/**
 * Opaque refresh tokens, stored only as sha256. `usedAt` set = rotated; presenting it again is reuse,
 * except within the grace window, when it answers with its one successor (`successorBox`).
 */
export const refreshTokens = auth.table(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    parentId: uuid('parent_id'),
    tokenHash: text('token_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' }),
    /**
     * The successor token sealed with a key derived from this (rotated) token, which is stored only
     * hashed: readable only by whoever presents this token again, and wiped once the grace window ends.
     */
    successorBox: text('successor_box')
  },
  (t) => [
    uniqueIndex('refresh_tokens_hash_key').on(t.tokenHash),
    index('refresh_tokens_session_idx').on(t.sessionId),
    // A token is rotated once: the family is a chain, never a tree, whatever the concurrency.
    uniqueIndex('refresh_tokens_parent_key').on(t.parentId),
    // Only boxes not yet wiped, so the sweep after each rotation finds them at once.
    index('refresh_tokens_box_idx').on(t.usedAt).where(sql`${t.successorBox} IS NOT NULL`)
  ]
)

/**
 * Failed logins and logins being checked, shared by every auth instance: the brute-force throttle
 * counts them per account (normalised email, known or not) and per client address (its limit key)
 * over a sliding window (lib/throttle.ts). An attempt is `in_flight` while its password is checked;
 * those count against the account only.
 */
export const loginFailures = auth.table(
  'login_failures',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    account: text('account').notNull(),
    ip: text('ip').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    inFlight: boolean('in_flight').notNull().default(false)
  },
  (t) => [index('login_failures_account_idx').on(t.account, t.at), index('login_failures_ip_idx').on(t.ip, t.at)]
)

export const rateLimits = rateLimitsTable(auth)

/**
 * Append-only audit trail with a hash chain: `hash = sha256(prevHash || canonical(row))`, so
 * editing, deleting or reordering a row breaks every later link.
 */
export const auditLog = auth.table('audit_log', {
  /** consecutive from 1, assigned under the chain lock: a gap is a deleted row */
  id: bigint('id', { mode: 'number' }).primaryKey(),
  at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
  event: text('event').notNull(),
  userId: uuid('user_id'),
  sessionId: uuid('session_id'),
  ip: text('ip'),
  details: jsonb('details').$type<Record<string, string | number | boolean | null>>().notNull(),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull()
})

/** Events written with the changes they announce (session revocations); the platform's relay publishes them (OutboxRelay). */
export const outbox = outboxTable(auth)
