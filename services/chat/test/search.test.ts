import t from 'tap'
import pg from 'pg'
import { NATS_HEADERS } from '@palisade/contracts'
import { provisionServiceRoles, serviceRoleName } from '@palisade/platform'
import { acting, chatHarness } from './helpers.js'

t.test('search covers only my conversations', async (t) => {
  const h = await chatHarness(t)
  const [alice, bob, eve] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const shared = await h.createConversation(alice, 'Shared', [bob])
  const alone = await h.createConversation(alice, 'Alone')
  const evesOwn = await h.createConversation(eve, 'Eve')
  await h.send(alice, shared.id, 'The deployment of the rocket is scheduled')
  await h.send(bob, shared.id, 'Rockets deploy on Friday')
  await h.send(alice, alone.id, 'rocket notes to self')
  await h.send(eve, evesOwn.id, 'eve also talks about rockets')
  await h.send(bob, shared.id, 'lunch?')

  const search = async (user: typeof alice, qs: string) => {
    const res = await h.as(user, 'GET', `/api/chat/search?${qs}`)
    t.equal(res.statusCode, 200, res.body.slice(0, 200))
    return res.json() as { items: Array<{ text: string; conversationId: string }>; nextCursor: string | null }
  }

  let page = await search(alice, 'q=rocket')
  t.same(
    page.items.map((m) => m.text),
    ['rocket notes to self', 'Rockets deploy on Friday', 'The deployment of the rocket is scheduled'],
    'stemmed matches, newest first'
  )
  page = await search(bob, 'q=rocket')
  t.same(
    page.items.map((m) => m.text),
    ['Rockets deploy on Friday', 'The deployment of the rocket is scheduled'],
    "bob sees neither alice's private conversation nor eve's"
  )
  page = await search(eve, 'q=deploy')
  t.same(page.items, [], 'eve finds nothing of theirs')
  page = await search(alice, `q=rocket&conversationId=${alone.id}`)
  t.same(
    page.items.map((m) => m.text),
    ['rocket notes to self']
  )
  page = await search(alice, `q=${encodeURIComponent('rocket -friday')}`)
  t.equal(page.items.length, 2, 'web search syntax (exclusion)')
  page = await search(alice, `q=${encodeURIComponent('"rocket is scheduled"')}`)
  t.equal(page.items.length, 1, 'phrases')
  page = await search(alice, 'q=the')
  t.same(page.items, [], 'stop words only: no match, no error')
  page = await search(alice, `q=${encodeURIComponent("'):*&|!<->(")}`)
  t.same(page.items, [], 'tsquery operators in the input are just text')

  const first = await search(alice, 'q=rocket&limit=2')
  t.equal(first.items.length, 2)
  t.type(first.nextCursor, 'string')
  const second = await search(alice, `q=rocket&limit=2&cursor=${first.nextCursor}`)
  t.same(
    second.items.map((m) => m.text),
    ['The deployment of the rocket is scheduled']
  )
  t.equal(second.nextCursor, null)

  let res = await h.as(eve, 'GET', `/api/chat/search?q=rocket&conversationId=${shared.id}`)
  t.equal(res.statusCode, 404, "filtering on someone else's conversation")
  res = await h.as(alice, 'GET', '/api/chat/search?q=')
  t.equal(res.statusCode, 400)
  res = await h.as(alice, 'GET', `/api/chat/search?q=${'x'.repeat(201)}`)
  t.equal(res.statusCode, 400)
})

t.test('search filters: in:, from:, has:file, before:, after:, still only my conversations', async (t) => {
  const h = await chatHarness(t)
  const [alice, bob, eve] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const shared = await h.createConversation(alice, 'Shared', [bob])
  const alone = await h.createConversation(alice, 'Alone')
  const evesOwn = await h.createConversation(eve, 'Eve', [bob])
  const a1 = await h.send(alice, shared.id, 'budget draft one')
  const b1 = await h.send(bob, shared.id, 'budget review by bob')
  const a2 = await h.send(alice, alone.id, 'budget notes to self')
  await h.send(eve, evesOwn.id, 'budget secrets of eve')
  await h.send(bob, evesOwn.id, 'bob in eve budget room')
  // An attachment and dates, as the files service and time would have made them
  await h.app.pg.query(`UPDATE chat.messages SET attachments = ARRAY[gen_random_uuid()] WHERE id = $1`, [b1.id])
  await h.app.pg.query(`UPDATE chat.messages SET created_at = '2026-01-15T12:00:00Z' WHERE id = $1`, [a1.id])
  await h.app.pg.query(`UPDATE chat.messages SET created_at = '2026-03-01T00:00:00Z' WHERE id = $1`, [a2.id])

  const texts = async (user: typeof alice, q: string) => {
    const res = await h.as(user, 'GET', `/api/chat/search?q=${encodeURIComponent(q)}`)
    t.equal(res.statusCode, 200, `${q}: ${res.body.slice(0, 200)}`)
    return (res.json().items as Array<{ text: string }>).map((m) => m.text)
  }
  t.same(await texts(alice, `budget in:${shared.id}`), ['budget review by bob', 'budget draft one'], 'in:')
  t.same(await texts(alice, `budget IN:${alone.id.toUpperCase()}`), ['budget notes to self'], 'keys and ids in any case')
  t.same(await texts(alice, `budget from:${bob.userId}`), ['budget review by bob'], "from: bob, but not bob's messages in eve's room")
  t.same(await texts(alice, 'budget from:me'), ['budget notes to self', 'budget draft one'], 'from:me')
  t.same(await texts(alice, `from:${eve.userId}`), [], 'from: someone whose conversations I am not in: nothing')
  t.same(await texts(bob, 'has:file'), ['budget review by bob'], 'has:file, filters only')
  t.same(await texts(alice, 'budget before:2026-02-01'), ['budget draft one'], 'before: a UTC day, exclusive')
  t.same(await texts(alice, 'budget after:2026-03-01 before:2026-03-02'), ['budget notes to self'], 'after: from that day on')
  t.same(await texts(alice, 'budget after:2026-03-02 before:2026-03-01'), [], 'an empty range finds nothing')
  t.same(await texts(alice, 'budget: review'), ['budget review by bob'], 'other words with a colon stay text')
  t.same(await texts(eve, `from:${alice.userId} has:file`), [], 'filters never widen access')

  const res = await h.as(eve, 'GET', `/api/chat/search?q=${encodeURIComponent(`budget in:${shared.id}`)}`)
  t.equal(res.statusCode, 404, "in: someone else's conversation")
  for (const q of ['in:shared', 'from:bob', 'has:link', 'before:2026-02-31', 'after:yesterday', 'in:', 'from:me from:me', `in:${shared.id} in:${alone.id}`]) {
    const bad = await h.as(alice, 'GET', `/api/chat/search?q=${encodeURIComponent(q)}`)
    t.equal(bad.statusCode, 400, q)
    t.equal(bad.json().code, 'SEARCH_FILTER_INVALID', q)
    t.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8')
  }
  const both = await h.as(alice, 'GET', `/api/chat/search?q=${encodeURIComponent(`budget in:${shared.id}`)}&conversationId=${alone.id}`)
  t.equal(both.statusCode, 400, 'in: and conversationId disagreeing')

  // Over NATS, as agents' tools search: the same parser, the same access rule
  const request = async (q: string, user: typeof alice) => {
    const m = await h.nc.request('chat.search', JSON.stringify({ q }), { timeout: 3000, headers: acting(user.userId, user.sessionId) })
    if (m.headers?.get(NATS_HEADERS.serviceError)) {
      return { status: Number(m.headers.get(NATS_HEADERS.serviceErrorCode)), code: m.headers.get(NATS_HEADERS.problemCode), items: undefined }
    }
    return { items: m.json<{ items: Array<{ text: string }> }>().items }
  }
  t.same(
    (await request(`budget from:${bob.userId}`, alice)).items?.map((m) => m.text),
    ['budget review by bob']
  )
  t.same((await request('has:file', eve)).items, [])
  t.match(await request('before:soon', alice), { status: 400, code: 'SEARCH_FILTER_INVALID' })
})

t.test("search runs as chat's own role and never calls a look-alike function a sibling's role planted", async (t) => {
  let admin: pg.Client | undefined
  let roles: { service: string; role: string; password: string }[] = []
  let adminUrl = ''
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: adminUrl.replace(/\/[^/?]+(\?|$)/, '/postgres$1') })
    await c.connect()
    for (const r of roles) await c.query(`DROP ROLE IF EXISTS "${r.role}"`).catch(() => {})
    await c.end()
  })
  const h = await chatHarness(t, {}, async (stack) => {
    adminUrl = stack.databaseUrl
    const database = new URL(adminUrl).pathname.slice(1)
    roles = ['chat', 'files'].map((service) => ({ service, role: serviceRoleName(database, service), password: `pw-${service}` }))
    await provisionServiceRoles(adminUrl, database, roles)
    const [chatRole, filesRole] = [roles[0]!.role, roles[1]!.role]
    // The attack (as files' role could do it when roles had CREATE on the database): a schema named
    // after chat's role, first on PostgreSQL's default search path, with a websearch_to_tsquery that
    // copies every search into a table files reads (in that schema), running with chat's privileges.
    admin = new pg.Client({ connectionString: adminUrl })
    admin.on('error', () => {})
    await admin.connect()
    await admin.query(`CREATE SCHEMA "${chatRole}" AUTHORIZATION "${filesRole}"`)
    const asFiles = new URL(adminUrl)
    asFiles.username = filesRole
    asFiles.password = 'pw-files'
    const files = new pg.Client({ connectionString: asFiles.toString() })
    await files.connect()
    try {
      await files.query(`CREATE TABLE "${chatRole}".loot (q text, by_role text);
        GRANT USAGE ON SCHEMA "${chatRole}" TO PUBLIC; GRANT INSERT ON "${chatRole}".loot TO PUBLIC;
        CREATE FUNCTION "${chatRole}".websearch_to_tsquery(cfg text, q text) RETURNS tsquery LANGUAGE plpgsql AS $$
          BEGIN INSERT INTO "${chatRole}".loot VALUES (q, current_user); RETURN pg_catalog.websearch_to_tsquery(cfg::regconfig, q); END $$;
        GRANT EXECUTE ON FUNCTION "${chatRole}".websearch_to_tsquery(text, text) TO PUBLIC`)
    } finally {
      await files.end()
    }
    const asChat = new URL(adminUrl)
    asChat.username = chatRole
    asChat.password = 'pw-chat'
    return { DATABASE_URL: asChat.toString() }
  })
  const [alice, bob] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
  const c = await h.createConversation(alice, 'Plans', [bob])
  await h.send(alice, c.id, 'the launch code is 0000')
  const res = await h.as(bob, 'GET', '/api/chat/search?q=launch')
  t.equal(res.statusCode, 200, res.body.slice(0, 200))
  t.same(
    res.json().items.map((m: { text: string }) => m.text),
    ['the launch code is 0000'],
    'search works as the service role'
  )
  t.same((await admin!.query(`SELECT * FROM "${roles[0]!.role}".loot`)).rows, [], 'the planted function never ran')
  await admin!.end()
})
