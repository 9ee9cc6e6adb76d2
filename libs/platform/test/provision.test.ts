import { test } from 'tap'
import pg from 'pg'
import { connectWhenReady, provisionServiceRoles } from '../src/index.js'
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
