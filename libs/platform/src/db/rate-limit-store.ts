import type pg from 'pg'

type Callback = (err: Error | null, res?: { current: number; ttl: number }) => void

interface RouteParams {
  routeInfo?: { method?: string; url?: string }
}

/**
 * A @fastify/rate-limit store kept in PostgreSQL (`<schema>.rate_limits`, one row per key and
 * route), so every instance of a service spends one budget: with the in-memory store each instance
 * would allow the whole budget again. One upsert per request — for low-rate routes (sign-in,
 * registration, resets), not for a hot path. While the database is away the request fails like any
 * other database request (503).
 */
export function pgRateLimitStore(pool: () => pg.Pool, schema: string) {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`)
  const text = `INSERT INTO ${schema}.rate_limits AS b (key, hits, window_end)
                VALUES ($1, 1, now() + make_interval(secs => $2::float8 / 1000))
                ON CONFLICT (key) DO UPDATE SET
                  hits = CASE WHEN b.window_end <= now() THEN 1 ELSE b.hits + 1 END,
                  window_end = CASE WHEN b.window_end <= now() THEN excluded.window_end ELSE b.window_end END
                RETURNING hits, greatest(0, extract(epoch FROM window_end - now()) * 1000)::float8 AS ttl`
  return class PgRateLimitStore {
    constructor(
      _params: unknown,
      readonly prefix = 'global '
    ) {}

    incr(key: string, cb: Callback, timeWindow: number): void {
      pool()
        .query<{ hits: number; ttl: number }>({ name: `${schema}_rate_limit_incr`, text, values: [`${this.prefix}${key}`.slice(0, 512), timeWindow] })
        .then((r) => cb(null, { current: r.rows[0]!.hits, ttl: Math.ceil(r.rows[0]!.ttl) }))
        .catch((err: Error) => cb(err))
    }

    child(params: RouteParams): PgRateLimitStore {
      return new PgRateLimitStore(params, `${params.routeInfo?.method ?? ''} ${params.routeInfo?.url ?? ''} `)
    }
  }
}

/** Forgets windows that ended (run now and then; the table holds only live windows otherwise). */
export async function pruneRateLimits(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DELETE FROM ${schema}.rate_limits WHERE window_end < now()`)
}
