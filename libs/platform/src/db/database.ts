import pg from 'pg'
import { sql } from 'drizzle-orm'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import { serviceSearchPath } from './provision.js'

export type Database = NodePgDatabase<Record<string, never>>

export interface DatabaseOptions {
  url: string
  /** application name shown in pg_stat_activity */
  name: string
  max?: number
  /**
   * the service's own schema: every connection then pins its search_path (see serviceSearchPath),
   * whatever the role's or database's defaults say
   */
  schema?: string
}

export function createPool(opts: DatabaseOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    application_name: opts.name,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 15_000,
    ...(opts.schema ? { options: `-c search_path=${serviceSearchPath(opts.schema).replace(/ /g, '')}` } : {})
  })
  // An idle client losing its server must not crash the process; the pool replaces it.
  pool.on('error', () => {})
  // Nor may a checked-out one between two queries (a transaction awaiting something else when the
  // server goes away): the next query on it fails, and the pool discards it when it comes back.
  pool.on('connect', (client) => client.on('error', () => {}))
  return pool
}

export function createDatabase(pool: pg.Pool): Database {
  return drizzle(pool)
}

/**
 * Applies the service's versioned drizzle-kit migrations, recording them in `<schema>.__migrations`
 * exactly as drizzle's own migrator does. Unlike drizzle's, it skips the migrations' `CREATE SCHEMA
 * [IF NOT EXISTS] "<schema>"` once the schema exists: PostgreSQL checks the database's CREATE
 * privilege even before IF NOT EXISTS, and service roles do not have it (the administrator creates
 * their schema, see provisionServiceRoles). A connection that may create schemas (tests, a
 * superuser) still gets one.
 */
export interface PlannedMigration {
  hash: string
  /** drizzle-kit's folder timestamp, the level recorded in `<schema>.__migrations.created_at` */
  folderMillis: number
  statements: string[]
}

/**
 * The service's migrations newer than `after` (and not newer than `upTo`), without their
 * `CREATE SCHEMA` statement for the service's own schema (see runMigrations). Restores apply a
 * backup's exact level with it.
 */
export function migrationPlan(migrationsFolder: string, schema: string, opts: { after?: number; upTo?: number } = {}): PlannedMigration[] {
  const ownSchema = new RegExp(`^CREATE SCHEMA (IF NOT EXISTS )?"?${schema}"?;?$`, 'i')
  return readMigrationFiles({ migrationsFolder })
    .filter((m) => (opts.after === undefined || m.folderMillis > opts.after) && (opts.upTo === undefined || m.folderMillis <= opts.upTo))
    .map((m) => ({ hash: m.hash, folderMillis: m.folderMillis, statements: m.sql.filter((stmt) => !ownSchema.test(stmt.trim())) }))
}

/** The bookkeeping table runMigrations keeps, as drizzle's own migrator does. */
export const MIGRATIONS_TABLE = '__migrations'

export async function runMigrations(db: Database, migrationsFolder: string, schema: string): Promise<void> {
  const table = sql`${sql.identifier(schema)}.${sql.identifier(MIGRATIONS_TABLE)}`
  // Instances of one service start together: the lock makes the second wait and then find the
  // first one's migrations recorded, instead of applying them again.
  await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`palisade.migrations:${schema}`}))`)
    const found = await tx.execute(sql`SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${schema}`)
    if (found.rowCount === 0) {
      await tx.execute(sql`CREATE SCHEMA ${sql.identifier(schema)}`).catch((err: { code?: string; message: string }) => {
        throw err.code === '42501'
          ? new Error(`schema ${schema} does not exist and this role may not create it: provision it as the administrator (provisionServiceRoles)`)
          : err
      })
    }
    await tx.execute(sql`CREATE TABLE IF NOT EXISTS ${table} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`)
    const last = (await tx.execute<{ created_at: string }>(sql`SELECT created_at FROM ${table} ORDER BY created_at DESC LIMIT 1`)).rows[0]
    const plan = migrationPlan(migrationsFolder, schema, last ? { after: Number(last.created_at) } : {})
    for (const m of plan) {
      for (const stmt of m.statements) await tx.execute(sql.raw(stmt))
      await tx.execute(sql`INSERT INTO ${table} (hash, created_at) VALUES (${m.hash}, ${m.folderMillis})`)
    }
  })
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
