import pg from 'pg'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'

export type Database = NodePgDatabase<Record<string, never>>

export interface DatabaseOptions {
  url: string
  /** application name shown in pg_stat_activity */
  name: string
  max?: number
}

export function createPool(opts: DatabaseOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    application_name: opts.name,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 15_000
  })
  // An idle client losing its server must not crash the process; the pool replaces it.
  pool.on('error', () => {})
  return pool
}

export function createDatabase(pool: pg.Pool): Database {
  return drizzle(pool)
}

/**
 * Applies the service's versioned migrations. The bookkeeping table lives in the service's own
 * schema, so generated `CREATE SCHEMA` statements must say IF NOT EXISTS (drizzle creates the
 * schema first).
 */
export async function runMigrations(db: Database, migrationsFolder: string, schema: string): Promise<void> {
  await migrate(db, { migrationsFolder, migrationsSchema: schema, migrationsTable: '__migrations' })
}

/**
 * A connected client once the server accepts connections. PostgreSQL listens before it is ready and
 * answers "the database system is starting up" (57P03) meanwhile; that, and a socket not there yet,
 * are retried until the deadline.
 */
export async function connectWhenReady(url: string, deadlineMs = 30_000): Promise<pg.Client> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    const client = new pg.Client({ connectionString: url })
    try {
      await client.connect()
      return client
    } catch (err) {
      await client.end().catch(() => {})
      const code = (err as { code?: string }).code
      const transient = code === '57P03' || code === 'ECONNREFUSED' || code === 'ENOENT'
      if (!transient || Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}
