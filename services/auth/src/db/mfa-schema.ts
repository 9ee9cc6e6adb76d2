import { bigint, index, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { auth, users } from './schema.js'

/**
 * One TOTP factor per user. `secretBox` is the secret sealed with AES-256-GCM (AUTH_MFA_KEY, the
 * user id as associated data). `confirmedAt` null = enrolment started, not yet proven with a code.
 * `lastStep` is the RFC 6238 time step of the last accepted code: a code of that step or earlier is
 * never accepted again (replay within its window).
 */
export const totpFactors = auth.table('totp_factors', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  secretBox: text('secret_box').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  confirmedAt: timestamp('confirmed_at', { withTimezone: true, mode: 'date' }),
  lastStep: bigint('last_step', { mode: 'number' })
})

/** Single-use recovery codes, stored as HMAC-SHA256 under AUTH_MFA_KEY (a stolen table alone cannot be searched offline). */
export const recoveryCodes = auth.table(
  'recovery_codes',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('recovery_codes_hash_key').on(t.userId, t.codeHash)]
)

/** WebAuthn credentials (passkeys), several per user, each with a name the user chose. */
export const passkeys = auth.table(
  'passkeys',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** base64url credential id, as the authenticator reports it */
    credentialId: text('credential_id').notNull(),
    /** base64url COSE public key */
    publicKey: text('public_key').notNull(),
    counter: bigint('counter', { mode: 'number' }).notNull().default(0),
    transports: text('transports').array().notNull(),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('passkeys_credential_key').on(t.credentialId), index('passkeys_user_idx').on(t.userId)]
)

/**
 * The state between a login's password step and its second-factor or enrolment step, found by the
 * sha256 of the opaque ticket in the browser's cookie. Single use (`usedAt`), short-lived.
 * `purpose`: `mfa` (prove a factor) or `enrol` (the policy wants one first).
 */
export const mfaTickets = auth.table(
  'mfa_tickets',
  {
    id: uuid('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose').notNull(),
    // A sign-in through an OpenID provider carries the provider's session to the Palisade session
    // the second step starts, so that the provider's logout ends that session too.
    oidcIssuer: text('oidc_issuer'),
    oidcSubject: text('oidc_subject'),
    oidcSid: text('oidc_sid'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('mfa_tickets_hash_key').on(t.tokenHash), index('mfa_tickets_expiry_idx').on(t.expiresAt)]
)

/**
 * Outstanding WebAuthn challenges, each consumed (deleted) by the one ceremony that answers it.
 * `binding` ties it to what asked: a session (registration, re-authentication), a ticket (second
 * factor) or nothing (passkey-only sign-in, where the credential names the user).
 */
export const webauthnChallenges = auth.table(
  'webauthn_challenges',
  {
    challenge: text('challenge').primaryKey(),
    purpose: text('purpose').notNull(),
    binding: text('binding').notNull(),
    userId: uuid('user_id'),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull()
  },
  (t) => [index('webauthn_challenges_expiry_idx').on(t.expiresAt)]
)
