import { test } from 'tap'
import pg from 'pg'
import { connectWhenReady, createPool, provisionServiceRoles, serviceRoleName, serviceSearchPath } from '../src/index.js'
import { createTestDatabase, freePort, withDatabase } from '../src/testing/index.js'

test('each service role owns its schema and cannot read another', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const suffix = db.name.slice(-8)
  const roles = ['chat', 'files'].map((service) => ({ service, role: `t_${service}_${suffix}`, password: `pw-${service}-${suffix}` }))
  await provisionServiceRoles(db.url, db.name, roles)
  await provisionServiceRoles(db.url, db.name, roles) // idempotent
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: db.url.replace(`/${db.name}`, '/postgres') })
    await admin.connect()
    await db.drop()
    for (const r of roles) await admin.query(`DROP ROLE IF EXISTS "${r.role}"`)
    await admin.end()
  })
  const as = async (i: number) => {
    const u = new URL(withDatabase(db.url, db.name))
    u.username = roles[i]!.role
    u.password = roles[i]!.password
    const c = new pg.Client({ connectionString: u.toString() })
    await c.connect()
    t.teardown(() => c.end())
    return c
  }
  const chat = await as(0)
  const files = await as(1)
  await chat.query('CREATE TABLE chat.secrets (v text)')
  await chat.query("INSERT INTO chat.secrets VALUES ('only chat reads this')")
  t.same((await chat.query('SELECT v FROM chat.secrets')).rows, [{ v: 'only chat reads this' }])
  await t.rejects(files.query('SELECT v FROM chat.secrets'), { code: '42501' }, 'files cannot read chat')
  await t.rejects(files.query('CREATE TABLE chat.intruder (v text)'), { code: '42501' }, 'files cannot write into chat')
  await t.rejects(files.query('CREATE TABLE public.squat (v text)'), { code: '42501' }, 'nobody can create in public')
})

/** A fresh database with chat and files roles named by the rule; clients connect as either. */
async function twoServices(t: Parameters<Parameters<typeof test>[1]>[0]) {
  const db = await createTestDatabase()
  const roles = ['chat', 'files'].map((service) => ({ service, role: serviceRoleName(db.name, service), password: `pw-${service}` }))
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: db.url.replace(`/${db.name}`, '/postgres') })
    await admin.connect()
    await db.drop()
    for (const r of roles) await admin.query(`DROP ROLE IF EXISTS "${r.role}"`)
    await admin.end()
  })
  const warnings = await provisionServiceRoles(db.url, db.name, roles)
  const urlOf = (i: number) => {
    const u = new URL(withDatabase(db.url, db.name))
    u.username = roles[i]!.role
    u.password = roles[i]!.password
    return u.toString()
  }
  const as = async (i: number) => {
    const c = new pg.Client({ connectionString: urlOf(i) })
    await c.connect()
    t.teardown(() => c.end())
    return c
  }
  return { db, roles, warnings, urlOf, as }
}

const denied = { code: '42501' }

test("a sibling's role cannot put objects where another service's role resolves names", async (t) => {
  const { db, roles, warnings, as } = await twoServices(t)
  t.same(warnings, [])
  const files = await as(1)
  const chatRole = roles[0]!.role
  // The schema the default search path ("$user", public) would have searched for chat's role.
  await t.rejects(files.query(`CREATE SCHEMA "${chatRole}"`), denied, "files cannot create a schema named like chat's role")
  await t.rejects(files.query('CREATE SCHEMA files_scratch'), denied, 'no role creates schemas at all')
  await t.rejects(
    files.query('CREATE FUNCTION public.websearch_to_tsquery(text, text) RETURNS tsquery LANGUAGE sql AS $$ SELECT NULL::tsquery $$'),
    denied,
    'nothing in public'
  )
  await t.rejects(files.query('CREATE TEMP TABLE messages (x int)'), denied, 'no temporary objects')
  await t.rejects(files.query('CREATE EXTENSION IF NOT EXISTS pgcrypto'), denied, 'no extensions')
  const privileges = await files.query<{ role: string; db_create: boolean; db_temp: boolean; public_create: boolean }>(
    `SELECT r AS role, has_database_privilege(r, $1, 'CREATE') AS db_create, has_database_privilege(r, $1, 'TEMPORARY') AS db_temp,
            has_schema_privilege(r, 'public', 'CREATE') AS public_create FROM unnest($2::text[]) r ORDER BY 1`,
    [db.name, roles.map((r) => r.role)]
  )
  for (const row of privileges.rows)
    t.same(row, { role: row.role, db_create: false, db_temp: false, public_create: false }, `${row.role} has no CREATE or TEMPORARY`)
  for (const i of [0, 1]) {
    const c = await as(i)
    t.equal(
      (await c.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path,
      serviceSearchPath(roles[i]!.service),
      `${roles[i]!.role}: search_path pinned by the role`
    )
  }
})

test("chat's queries never run a function a sibling planted in a schema chat's role once searched", async (t) => {
  const { db, roles, urlOf, as } = await twoServices(t)
  const [chatRole, filesRole] = [roles[0]!.role, roles[1]!.role]
  // What files could do before roles lost CREATE on the database: a schema named after chat's role
  // (first on the default search path) holding a look-alike of the function chat's search calls,
  // which copies what it is given into a table files reads.
  const admin = new pg.Client({ connectionString: db.url })
  await admin.connect()
  t.teardown(() => admin.end())
  await admin.query(`CREATE SCHEMA "${chatRole}" AUTHORIZATION "${filesRole}"`)
  const files = await as(1)
  await files.query(`CREATE TABLE "${chatRole}".loot (q text, by_role text)`)
  await files.query(`GRANT USAGE ON SCHEMA "${chatRole}" TO PUBLIC; GRANT INSERT ON "${chatRole}".loot TO PUBLIC`)
  await files.query(`CREATE FUNCTION "${chatRole}".websearch_to_tsquery(cfg text, q text) RETURNS tsquery LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO "${chatRole}".loot VALUES (q, current_user); RETURN pg_catalog.websearch_to_tsquery(cfg::regconfig, q); END $$`)
  await files.query(`GRANT EXECUTE ON FUNCTION "${chatRole}".websearch_to_tsquery(text, text) TO PUBLIC`)

  const warnings = await provisionServiceRoles(db.url, db.name, roles)
  t.match(warnings, [new RegExp(`schema "${chatRole}" is owned by service role ${filesRole}`)], 'provisioning points at the planted schema')

  // chat's search, as chat's pool runs it and as a bare connection of chat's role runs it
  const search = `SELECT to_tsvector('english', 'rockets launch') @@ websearch_to_tsquery('english', $1) AS hit`
  const pool = createPool({ url: urlOf(0), name: 'chat', schema: 'chat', max: 1 })
  t.teardown(() => pool.end())
  t.same((await pool.query(search, ['rocket'])).rows, [{ hit: true }], 'search still works')
  const bare = await as(0)
  t.same((await bare.query(search, ['secret plans'])).rows, [{ hit: false }])
  t.same((await admin.query(`SELECT * FROM "${chatRole}".loot`)).rows, [], "the planted function never ran as chat's role")
})

test('a schema left by an older role of the same service is handed to the role named by the rule', async (t) => {
  const db = await createTestDatabase()
  // compose used to name a service's role after the service; a unique service name keeps this
  // cluster-wide role clear of anything else on the server
  const service = `svc_${db.name.slice(-8)}`
  const role = serviceRoleName(db.name, service)
  const admin = new pg.Client({ connectionString: db.url })
  await admin.connect()
  t.teardown(async () => {
    await admin.end()
    await db.drop()
    const c = new pg.Client({ connectionString: db.url.replace(`/${db.name}`, '/postgres') })
    await c.connect()
    for (const r of [role, service]) await c.query(`DROP ROLE IF EXISTS "${r}"`)
    await c.end()
  })
  await admin.query(`CREATE ROLE "${service}" LOGIN`)
  await admin.query(`GRANT CONNECT ON DATABASE "${db.name}" TO "${service}"`)
  await admin.query(`CREATE SCHEMA "${service}" AUTHORIZATION "${service}"`)
  await admin.query(`SET ROLE "${service}"; CREATE TABLE "${service}".messages (id int); RESET ROLE`)
  await provisionServiceRoles(db.url, db.name, [{ service, role, password: 'pw' }])
  const owners = await admin.query(
    `SELECT n.nspowner::regrole::text AS schema_owner, c.relowner::regrole::text AS table_owner
     FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid WHERE n.nspname = $1 AND c.relname = 'messages'`,
    [service]
  )
  t.same(owners.rows, [{ schema_owner: role, table_owner: role }])
  t.notOk((await admin.query(`SELECT has_database_privilege($1, $2, 'CONNECT') AS ok`, [service, db.name])).rows[0].ok, 'the old role no longer connects')
})

test('connectWhenReady: waits for a server that is not there yet, gives up at the deadline', async (t) => {
  const client = await connectWhenReady('postgres://postgres@127.0.0.1:5432/postgres', 1000)
  t.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1)
  await client.end()

  const port = await freePort()
  const started = Date.now()
  await t.rejects(connectWhenReady(`postgres://postgres@127.0.0.1:${port}/postgres`, 400), { code: 'ECONNREFUSED' })
  t.ok(Date.now() - started >= 400, 'kept trying until the deadline')
  await t.rejects(connectWhenReady('postgres://nobody@127.0.0.1:5432/postgres', 5000), /role "nobody" does not exist/, 'a real refusal is not retried')
})
