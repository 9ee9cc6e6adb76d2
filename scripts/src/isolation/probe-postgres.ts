/** Probe 6: a service's database role stays inside its own schema and cannot plant objects for others. */
import { serviceSearchPath } from '@palisade/platform'
import pg from 'pg'
import { check, timed } from './report.js'
import { secretValue } from './secret-value.js'
import type { AttackerTargets, ProbeResult } from './types.js'

/** What an attempt as some role came to: `ALLOWED`, `permission denied (42501)`, or the error. */
async function attempt(c: pg.Client, sql: string): Promise<string> {
  // In a transaction rolled back either way: a statement that should have failed leaves nothing.
  await c.query('BEGIN')
  try {
    await c.query(sql)
    return 'ALLOWED'
  } catch (err) {
    const e = err as { code?: string; message: string }
    return e.code === '42501' ? 'permission denied (42501)' : `${e.code ?? ''} ${e.message}`
  } finally {
    await c.query('ROLLBACK')
  }
}

const DENIED = 'permission denied (42501)'

export async function probePostgres(t: AttackerTargets): Promise<ProbeResult> {
  return timed(
    6,
    "a service's database role can neither read another service's schema nor plant objects where another role resolves names",
    'permission denied (42501); search_path pinned',
    async (checks) => {
      const services = Object.keys(t.databaseUrls)
      const roleOf = Object.fromEntries(services.map((s) => [s, decodeURIComponent(new URL(secretValue(t.databaseUrls[s]!)).username)]))
      for (const s of services) {
        const c = new pg.Client({ connectionString: secretValue(t.databaseUrls[s]!), connectionTimeoutMillis: 5000 })
        await c.connect()
        try {
          const denied = async (what: string, sql: string) => {
            const observed = await attempt(c, sql)
            checks.push(check(`${s} role: ${what}`, DENIED, observed, observed === DENIED))
          }
          for (const o of services.filter((x) => x !== s)) {
            const table = (await c.query<{ tablename: string }>('SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = $1 ORDER BY 1 LIMIT 1', [o]))
              .rows[0]?.tablename
            if (table) await denied(`SELECT ${o}.${table}`, `SELECT 1 FROM "${o}"."${table}" LIMIT 1`)
            else await denied(`CREATE TABLE in ${o}`, `CREATE TABLE "${o}"."isolation_probe" (x int)`)
            // PostgreSQL's default search path starts with a schema named like the role: whoever
            // creates it can shadow functions the other service calls.
            await denied(`CREATE SCHEMA named like ${o}'s role (${roleOf[o]})`, `CREATE SCHEMA "${roleOf[o]}"`)
          }
          await denied(
            'CREATE FUNCTION public.websearch_to_tsquery(text, text)',
            'CREATE FUNCTION public.websearch_to_tsquery(text, text) RETURNS tsquery LANGUAGE sql AS $$ SELECT NULL::tsquery $$'
          )
          await denied('CREATE TEMP TABLE', 'CREATE TEMP TABLE isolation_probe (x int)')
          const path = (await c.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path
          checks.push(check(`${s} role: search_path`, serviceSearchPath(s), path, path === serviceSearchPath(s)))
          if (s === services[0]) {
            const planted = await c.query<{ nspname: string }>('SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY($1) ORDER BY 1', [
              Object.values(roleOf)
            ])
            checks.push(check('schemas named like a service role', 'none', planted.rows.map((r) => r.nspname).join(', ') || 'none', planted.rowCount === 0))
          }
        } finally {
          await c.end().catch(() => {})
        }
      }
    }
  )
}
