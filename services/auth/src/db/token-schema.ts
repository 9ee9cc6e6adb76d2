import { index, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { auth, users } from './schema.js'

/**
 * Personal access tokens. Only the sha256 of a token is stored (it has 256 random bits, so a fast
 * hash is enough: nothing to guess). The id is the token's session id in identity headers,
 * assertions and revocation events. `lastUsedAt` is written at most once a minute per auth instance.
 */
export const personalTokens = auth.table(
  'personal_tokens',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    last4: text('last4').notNull(),
    scopes: text('scopes').array().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('personal_tokens_hash_key').on(t.tokenHash), index('personal_tokens_user_idx').on(t.userId)]
)
