// Probe 6 (PostgreSQL as each service role) against the real PostgreSQL: it passes on roles as
// provisionServiceRoles leaves them and catches each way a sibling's role could once hijack another
// service's queries (CREATE on the database, an unpinned search_path, a schema named like a role).
import t from 'tap'
import pg from 'pg'
import { provisionServiceRoles, serviceRoleName } from '@palisade/platform'
import { createTestDatabase, withDatabase } from '@palisade/platform/testing'
import { probePostgres } from '../src/isolation/probe-postgres.js'
import type { AttackerTargets } from '../src/isolation/types.js'

t.test('probe 6: reads, schema squatting, public, temp objects and search paths', async (t) => {
  const db = await createTestDatabase('iso')
  const roles = ['chat', 'files'].map((service) => ({ service, role: serviceRoleName(db.name, service), password: `pw-${service}` }))
  const admin = new pg.Client({ connectionString: db.url })
  t.teardown(async () => {
    await admin.end()
    await db.drop()
    const c = new pg.Client({ connectionString: withDatabase(db.url, 'postgres') })
    await c.connect()
    for (const r of roles) await c.query(`DROP ROLE IF EXISTS "${r.role}"`)
    await c.end()
  })
  await admin.connect()
  await provisionServiceRoles(db.url, db.name, roles)
  const urlOf = (i: number) => {
    const u = new URL(db.url)
    u.username = roles[i]!.role
    u.password = roles[i]!.password
    return u.toString()
  }
  await admin.query(`SET ROLE "${roles[0]!.role}"; CREATE TABLE chat.messages (text text); RESET ROLE`)
  const targets = { databaseUrls: { chat: urlOf(0), files: urlOf(1) } } as unknown as AttackerTargets

  const ok = await probePostgres(targets)
  t.ok(ok.pass, ok.observed)
  const whats = ok.checks.map((c) => c.what)
  for (const w of [
    'files role: SELECT chat.messages',
    `files role: CREATE SCHEMA named like chat's role (${roles[0]!.role})`,
    'files role: CREATE FUNCTION public.websearch_to_tsquery(text, text)',
    'files role: CREATE TEMP TABLE',
    'chat role: search_path'
  ]) {
    t.ok(whats.includes(w), `checks ${w}`)
  }

  // What roles looked like before: CREATE and TEMPORARY on the database, PostgreSQL's default path.
  await admin.query(`GRANT CREATE, TEMPORARY ON DATABASE "${db.name}" TO "${roles[1]!.role}"`)
  await admin.query(`ALTER ROLE "${roles[0]!.role}" RESET search_path`)
  const weak = await probePostgres(targets)
  t.notOk(weak.pass)
  const failed = weak.checks.filter((c) => !c.pass).map((c) => `${c.what} → ${c.observed}`)
  t.match(
    failed,
    [/chat role: search_path → "\$user", public/, /files role: CREATE SCHEMA named like chat's role .* → ALLOWED/, /files role: CREATE TEMP TABLE → ALLOWED/],
    failed.join('\n')
  )
  t.equal(
    (await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [roles[0]!.role])).rowCount,
    0,
    'what the probe was allowed to create is rolled back'
  )

  await admin.query(`CREATE SCHEMA "${roles[0]!.role}" AUTHORIZATION "${roles[1]!.role}"`)
  const planted = await probePostgres(targets)
  t.ok(
    planted.checks.some((c) => c.what === 'schemas named like a service role' && !c.pass && c.observed === roles[0]!.role),
    'a schema already planted is reported'
  )
})
