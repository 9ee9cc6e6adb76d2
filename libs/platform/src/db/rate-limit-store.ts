import { createRequire } from 'node:module'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'

type Callback = (err: Error | null, res?: { current: number; ttl: number }) => void

interface RouteParams {
  routeInfo?: { method?: string; url?: string }
}

/** Which counts live in the table: every one, or only the budgets routes declare (`config.rateLimit`). */
export type SharedRateLimits = 'all' | 'routes'

interface MemoryStore {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void
}
// @fastify/rate-limit's own in-memory store (an LRU of fixed windows); it has no exports map or types for it.
const LocalStore = createRequire(import.meta.url)('@fastify/rate-limit/store/LocalStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cache?: number
) => MemoryStore

/**
 * A @fastify/rate-limit store kept in PostgreSQL (`<schema>.rate_limits`, one row per key and
 * route), so every instance of a service spends one budget: with the in-memory store each instance
 * would allow the whole budget again. One upsert per counted request — for low-rate routes (sign-in,
 * registration, uploads, share-link opens), not for a hot path: with `routes`, the service-wide limit
 * (flood protection of this process, on every request) stays in memory and only the routes' own
 * budgets are shared. While the database is away the request fails like any other database request (503).
 */
export function pgRateLimitStore(pool: () => pg.Pool, schema: string, shared: SharedRateLimits = 'all') {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`)
  const text = `INSERT INTO ${schema}.rate_limits AS b (key, hits, window_end)
                VALUES ($1, 1, now() + make_interval(secs => $2::float8 / 1000))
                ON CONFLICT (key) DO UPDATE SET
                  hits = CASE WHEN b.window_end <= now() THEN 1 ELSE b.hits + 1 END,
                  window_end = CASE WHEN b.window_end <= now() THEN excluded.window_end ELSE b.window_end END
                RETURNING hits, greatest(0, extract(epoch FROM window_end - now()) * 1000)::float8 AS ttl`
  return class PgRateLimitStore {
    /** the service-wide limit's counts when only route budgets are shared */
    readonly memory: MemoryStore | undefined

    constructor(
      params: { continueExceeding?: boolean; exponentialBackoff?: boolean } | undefined,
      readonly prefix = 'global ',
      isRoute = false
    ) {
      if (shared === 'routes' && !isRoute) this.memory = new LocalStore(params?.continueExceeding ?? false, params?.exponentialBackoff ?? false)
    }

    incr(key: string, cb: Callback, timeWindow: number, max: number): void {
      if (this.memory) return this.memory.incr(key, cb, timeWindow, max)
      pool()
        .query<{ hits: number; ttl: number }>({ name: `${schema}_rate_limit_incr`, text, values: [`${this.prefix}${key}`.slice(0, 512), timeWindow] })
        .then((r) => cb(null, { current: r.rows[0]!.hits, ttl: Math.ceil(r.rows[0]!.ttl) }))
        .catch((err: Error) => cb(err))
    }

    /** A route with its own `config.rateLimit` (the plugin asks for a child only then). */
    child(params: RouteParams): PgRateLimitStore {
      return new PgRateLimitStore(undefined, `${params.routeInfo?.method ?? ''} ${params.routeInfo?.url ?? ''} `, true)
    }
  }
}

/** Forgets windows that ended (run now and then; the table holds only live windows otherwise). */
export async function pruneRateLimits(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DELETE FROM ${schema}.rate_limits WHERE window_end < now()`)
}

/** The table keeps only live windows: ended ones are deleted every ten minutes while the app runs. */
export function pruneRateLimitsNowAndThen(app: FastifyInstance, schema: string): void {
  const timer = setInterval(() => {
    void pruneRateLimits(app.pg, schema).catch((err) => app.log.warn({ err }, 'pruning rate limits failed'))
  }, 10 * 60_000)
  timer.unref()
  app.addHook('onClose', async () => clearInterval(timer))
}
