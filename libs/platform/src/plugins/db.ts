import fp from 'fastify-plugin'
import type pg from 'pg'
import { tracePoolQueries } from '../tracing/pg.js'
import { createDatabase, createPool, runMigrations, type Database } from '../db/database.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
    pg: pg.Pool
  }
}

export interface DbPluginOptions {
  url: string
  name: string
  /** the service's own schema */
  schema: string
  /** folder of drizzle-kit migrations; applied on start when set */
  migrationsFolder?: string
  poolSize?: number
}

export const dbPlugin = fp<DbPluginOptions>(
  async (app, opts) => {
    const pool = createPool({ url: opts.url, name: opts.name, schema: opts.schema, max: opts.poolSize ?? 10 })
    tracePoolQueries(pool, opts.name)
    const db = createDatabase(pool)
    if (opts.migrationsFolder) await runMigrations(db, opts.migrationsFolder, opts.schema)
    app.decorate('pg', pool)
    app.decorate('db', db)
    app.addHook('onClose', async () => {
      await pool.end()
    })
  },
  { name: 'palisade-db' }
)
