import { integer, text, timestamp, type PgSchema } from 'drizzle-orm/pg-core'

/**
 * Request budgets of the HTTP rate limits (pgRateLimitStore): one row per route and key (client
 * address or user) with the hits of its current window, so every instance of the service spends the
 * same budget. A service with `sharedRateLimits` exports `rateLimitsTable(<its schema>)` from its
 * drizzle schema so that its migrations create it.
 */
export function rateLimitsTable(schema: PgSchema) {
  return schema.table('rate_limits', {
    key: text('key').primaryKey(),
    hits: integer('hits').notNull(),
    windowEnd: timestamp('window_end', { withTimezone: true, mode: 'date' }).notNull()
  })
}
