import t from 'tap'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { buildService, type TestUser } from '@palisade/testkit'
import chatApp, { type ChatAppConfig } from '../src/app.js'
import { MessageCache, type ConversationSnapshot } from '../src/lib/message-cache.js'
import { chatHarness } from './helpers.js'

/** Polls until `check` holds (a notification crossing PostgreSQL takes a moment), at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('cache logic: fills once, serves pages, refuses nothing itself, drops what may be stale', async (t) => {
  const message = (seq: number) => ({ seq, json: `{"seq":${seq}}` })
  let loads = 0
  let gate: Promise<void> = Promise.resolve()
  // A loader whose timing the test controls (the real one is exercised against PostgreSQL below).
  const snapshot: ConversationSnapshot = { members: new Set(['alice']), messages: [5, 4, 3, 2, 1].map(message), complete: true }
  const pageOf = async (c: MessageCache, ...args: Parameters<MessageCache['page']>) => (await c.page(...args))?.toString()
  const cache = new MessageCache({
    maxBytes: 1 << 20,
    ttlMs: 60_000,
    load: async () => {
      loads++
      await gate
      return snapshot
    }
  })

  t.equal(await pageOf(cache, 'alice', 'c1', undefined, 2), undefined, 'not live: nothing is answered (changes would go unheard)')
  t.equal(loads, 0)
  cache.setLive(true)

  const first = await pageOf(cache, 'alice', 'c1', undefined, 2)
  const cursor = Buffer.from('m:4').toString('base64url')
  t.equal(first, `{"items":[{"seq":5},{"seq":4}],"nextCursor":"${cursor}"}`)
  t.equal(await pageOf(cache, 'alice', 'c1', 4, 10), '{"items":[{"seq":3},{"seq":2},{"seq":1}],"nextCursor":null}', 'an older page within the snapshot')
  t.equal(
    await pageOf(cache, 'alice', 'c1', undefined, 5),
    '{"items":[{"seq":5},{"seq":4},{"seq":3},{"seq":2},{"seq":1}],"nextCursor":null}',
    'exactly all: no cursor'
  )
  t.equal(await pageOf(cache, 'mallory', 'c1', undefined, 2), undefined, 'not in the snapshot: the database decides')
  t.equal(loads, 1, 'one fill served them all')
  t.same(cache.stats, { hits: 3, misses: 1, fills: 1, discarded: 0 })

  // A snapshot that holds only the newest messages cannot answer past its end.
  const partial = new MessageCache({ maxBytes: 1 << 20, ttlMs: 60_000, load: async () => ({ ...snapshot, complete: false }) })
  partial.setLive(true)
  t.ok(await pageOf(partial, 'alice', 'c1', undefined, 4), 'more beyond the page: answered')
  t.equal(await pageOf(partial, 'alice', 'c1', undefined, 5), undefined, 'whether more exist is unknown: the database answers')
  t.equal(await pageOf(partial, 'alice', 'c2', 3, 1), undefined, 'an older page never fills')

  // A change heard while a fill runs: its snapshot may predate the change, so it is neither kept nor used.
  cache.invalidate('c1')
  let open!: () => void
  gate = new Promise((r) => (open = r))
  const racing = [pageOf(cache, 'alice', 'c1', undefined, 2), pageOf(cache, 'alice', 'c1', undefined, 2)]
  await new Promise((r) => setImmediate(r))
  cache.invalidate('c1')
  open()
  t.same(await Promise.all(racing), [undefined, undefined], 'both waiting requests go to the database')
  t.equal(loads, 2, 'the concurrent misses shared one fill')
  t.equal(cache.stats.discarded, 1)
  t.ok(await pageOf(cache, 'alice', 'c1', undefined, 2), 'the next read fills again')
  t.equal(loads, 3)

  cache.setLive(false)
  t.equal(await pageOf(cache, 'alice', 'c1', undefined, 2), undefined, 'notifications lost: everything dropped')
  cache.setLive(true)
  t.ok(await pageOf(cache, 'alice', 'c1', undefined, 2))
  t.equal(loads, 4, 'and refilled once they are heard again')
})

t.test('two chat instances on one database: a cached read never outlives a change made anywhere', async (t) => {
  const h = await chatHarness(t)
  const config = h.stack.config({}) as ChatAppConfig
  const other = await buildService(t, chatApp, config, { service: 'chat' })
  const uncached = await buildService(t, chatApp, { ...config, CHAT_MESSAGE_CACHE_MB: 0 }, { service: 'chat' })
  const admin = new pg.Pool({ connectionString: h.stack.databaseUrl, max: 1 })
  t.teardown(() => admin.end())
  const [alice, bob, carol] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Cached', [bob, carol])
  const sent = []
  for (let i = 0; i < 30; i++) sent.push(await h.send(i % 2 ? alice : bob, conv.id, `message ${i}`))
  const uri = (query = '') => `/api/chat/conversations/${conv.id}/messages${query}`
  const on = async (app: FastifyInstance, user: TestUser, method: string, url: string, body?: unknown) => {
    const headers = await h.stack.identityHeaders(user, { method, uri: url })
    return app.inject({ method: method as 'GET', url, headers, ...(body === undefined ? {} : { payload: body as object }) })
  }
  const page = async (app: FastifyInstance, user: TestUser, query = '?limit=10') => {
    const res = await on(app, user, 'GET', uri(query))
    return { status: res.statusCode, type: res.headers['content-type'], body: res.body }
  }
  const cache = h.app.messageCache!
  t.ok(h.app.messageCacheListener?.isLive, 'instance A listens for changes')

  // Every page the cache can answer is the page the database answers, byte for byte.
  const queries = ['', '?limit=1', '?limit=10', '?limit=29', '?limit=30', '?limit=31', '?limit=100']
  for (const q of queries) t.same(await page(h.app, bob, q), await page(uncached, bob, q), `first page ${q || '(default)'}`)
  let cursor: string | null = (JSON.parse((await page(h.app, bob, '?limit=7')).body) as { nextCursor: string | null }).nextCursor
  while (cursor) {
    const a = await page(h.app, bob, `?limit=7&before=${cursor}`)
    t.same(a, await page(uncached, bob, `?limit=7&before=${cursor}`), 'older page')
    cursor = (JSON.parse(a.body) as { nextCursor: string | null }).nextCursor
  }
  const hits = cache.stats.hits
  await page(h.app, bob)
  t.equal(cache.stats.hits, hits + 1, 'a warm read is answered from memory')

  const seesOnA = (pred: (body: string) => boolean, user: TestUser = bob) => eventually(async () => pred((await page(h.app, user)).body))

  // Changes made through the other instance: A's snapshot is dropped by PostgreSQL's notification.
  const created = await on(other, carol, 'POST', uri(), { text: 'from instance B', clientMessageId: 'b-1' })
  t.equal(created.statusCode, 201)
  t.ok(await seesOnA((b) => b.includes('from instance B')), 'a message sent through B')
  t.equal((await on(other, alice, 'PATCH', `${uri()}/${sent[29]!.id}`, { text: 'edited through B' })).statusCode, 200)
  t.ok(await seesOnA((b) => b.includes('edited through B')), 'an edit through B')
  t.equal((await on(other, carol, 'DELETE', `${uri()}/${created.json().id}`)).statusCode, 204)
  t.ok(await seesOnA((b) => !b.includes('from instance B')), 'a delete through B')

  // A change no chat code made (another writer, a migration, an operator): the trigger still announces it.
  await page(h.app, bob)
  await admin.query('UPDATE chat.messages SET text = $1 WHERE id = $2', ['changed in SQL', sent[28]!.id])
  t.ok(await seesOnA((b) => b.includes('changed in SQL')), 'a change made in SQL')

  // Removal through B: the removed member's next reads on A are refused, however warm A's snapshot was.
  t.equal((await page(h.app, carol)).status, 200)
  t.equal((await on(other, alice, 'DELETE', `/api/chat/conversations/${conv.id}/members/${carol.userId}`)).statusCode, 204)
  t.ok(await eventually(async () => (await page(h.app, carol)).status === 404), 'a removed member is refused on A')
  const added = await on(other, alice, 'POST', `/api/chat/conversations/${conv.id}/members`, { userId: carol.userId })
  t.equal(added.statusCode, 201)
  t.equal((await page(h.app, carol)).status, 200, 'a member added through B reads on A at once (the database decides who is not in a snapshot)')

  // Deleting the conversation through B.
  await page(h.app, bob)
  t.equal((await on(other, alice, 'DELETE', `/api/chat/conversations/${conv.id}`)).statusCode, 204)
  t.ok(await eventually(async () => (await page(h.app, bob)).status === 404), 'a deleted conversation is gone on A')
})

t.test('when the notification connection is lost, nothing is served from memory until it is back', async (t) => {
  const h = await chatHarness(t)
  const admin = new pg.Pool({ connectionString: h.stack.databaseUrl, max: 1 })
  t.teardown(() => admin.end())
  const [alice, bob] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Outage', [bob])
  const first = await h.send(alice, conv.id, 'original')
  const read = async () => (await h.as(bob, 'GET', `/api/chat/conversations/${conv.id}/messages`)).body
  const listener = h.app.messageCacheListener!
  await read()
  const pid = listener.backendPid
  t.ok(pid, 'the listening connection has a backend')

  await admin.query('SELECT pg_terminate_backend($1)', [pid])
  t.ok(await eventually(async () => !listener.isLive), 'the loss is noticed')
  // Nothing announces this change (the trigger fires, but nobody listens on A's behalf).
  await admin.query('UPDATE chat.messages SET text = $1 WHERE id = $2', ['changed while deaf', first.id])
  const hits = h.app.messageCache!.stats.hits
  t.match(await read(), /changed while deaf/, 'read from the database while the cache is off')
  t.equal(h.app.messageCache!.stats.hits, hits, 'no hit while deaf')

  t.ok(await eventually(async () => listener.isLive, 5000), 'it reconnects by itself')
  t.not(listener.backendPid, pid, 'on a new connection')
  await read()
  await read()
  t.ok(h.app.messageCache!.stats.hits > hits, 'and the cache serves again')
  await admin.query('UPDATE chat.messages SET text = $1 WHERE id = $2', ['changed after reconnect', first.id])
  t.ok(await eventually(async () => /changed after reconnect/.test(await read())), 'changes are heard on the new connection')
})

t.test("notifications anyone on the database sends on chat's channel are only hints", async (t) => {
  // PostgreSQL has no privileges on channels: every role that can connect may NOTIFY chat_changes.
  // A forged notification can only make chat drop a cached conversation and read it again.
  const h = await chatHarness(t)
  const other = new pg.Pool({ connectionString: h.stack.databaseUrl, max: 1 })
  t.teardown(() => other.end())
  const [alice, bob] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Hints', [bob])
  await h.send(alice, conv.id, 'hello')
  const read = async () => (await h.as(bob, 'GET', `/api/chat/conversations/${conv.id}/messages`)).json().items.map((m: { text: string }) => m.text)
  const cache = h.app.messageCache!
  await read()
  await read()
  const before = { ...cache.stats }
  for (const junk of ['', 'x'.repeat(7000), `${conv.id} `, `{"conversationId":"${conv.id}"}`])
    await other.query('SELECT pg_notify($1, $2)', ['chat_changes', junk])
  await new Promise((r) => setTimeout(r, 200))
  t.same(await read(), ['hello'])
  t.equal(cache.stats.hits, before.hits + 1, 'payloads that are not a conversation id are ignored')
  await other.query('SELECT pg_notify($1, $2)', ['chat_changes', conv.id])
  t.ok(
    await eventually(async () => (await read()).join() === 'hello' && cache.stats.misses > before.misses),
    'a forged id costs a miss, and the page is what the database holds'
  )
})
