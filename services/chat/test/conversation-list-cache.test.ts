import t from 'tap'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { Compile } from 'typebox/compile'
import { ConversationPageSchema } from '@palisade/contracts'
import { buildService, type TestUser } from '@palisade/testkit'
import chatApp, { type ChatAppConfig } from '../src/app.js'
import { chatHarness } from './helpers.js'

/** Polls until `check` holds (a notification crossing PostgreSQL takes a moment), at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('"my conversations" from memory: equal to the database, and never older than a change made anywhere', async (t) => {
  const h = await chatHarness(t)
  const config = h.stack.config({}) as ChatAppConfig
  const other = await buildService(t, chatApp, config, { service: 'chat' })
  const uncached = await buildService(t, chatApp, { ...config, CHAT_MESSAGE_CACHE_MB: 0 }, { service: 'chat' })
  const admin = new pg.Pool({ connectionString: h.stack.databaseUrl, max: 1 })
  t.teardown(() => admin.end())
  const [alice, bob, carol] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const team = await h.createConversation(alice, 'Team', [bob])
  const side = await h.createConversation(bob, 'Side', [alice])
  await h.send(bob, team.id, 'hello alice')
  await h.send(alice, side.id, 'hello bob')

  const on = async (app: FastifyInstance, user: TestUser, method: string, url: string, body?: unknown) => {
    const headers = await h.stack.identityHeaders(user, { method, uri: url })
    return app.inject({ method: method as 'GET', url, headers, ...(body === undefined ? {} : { payload: body as object }) })
  }
  const list = async (app: FastifyInstance, user: TestUser, query = '') => {
    const res = await on(app, user, 'GET', `/api/chat/conversations${query}`)
    return { status: res.statusCode, type: res.headers['content-type'], body: res.body }
  }
  const lists = h.app.conversationListCache!
  t.ok(h.app.messageCacheListener?.isLive, 'instance A listens for changes')

  // Byte for byte what the database path answers, and valid against the contract.
  for (const q of ['', '?limit=1', '?limit=2', '?limit=50']) {
    const cached = await list(h.app, alice, q)
    t.same(cached, await list(uncached, alice, q), `first page ${q || '(default)'}`)
    t.ok(Compile(ConversationPageSchema).Check(JSON.parse(cached.body)), 'matches ConversationPageSchema')
  }
  const hits = lists.stats.hits
  await list(h.app, alice)
  t.equal(lists.stats.hits, hits + 1, 'a warm read is answered from memory')
  const cursor = JSON.parse((await list(h.app, alice, '?limit=1')).body).nextCursor as string
  t.same(await list(h.app, alice, `?limit=1&cursor=${cursor}`), await list(uncached, alice, `?limit=1&cursor=${cursor}`), 'later pages from the database')

  const unreadOnA = async (user: TestUser, id: string) =>
    (JSON.parse((await list(h.app, user)).body).items as Array<{ id: string; unreadCount: number; title: string }>).find((c) => c.id === id)
  const seesOnA = (user: TestUser, pred: (c: { unreadCount: number; title: string } | undefined) => boolean) =>
    eventually(async () => pred(await unreadOnA(user, team.id)))

  // Writes through this instance are seen at once (it drops its own entries before answering).
  t.equal((await unreadOnA(alice, team.id))?.unreadCount, 1)
  await h.send(bob, team.id, 'again')
  t.equal((await unreadOnA(alice, team.id))?.unreadCount, 2, 'a message through A: at once')
  const latest = (await on(h.app, alice, 'GET', `/api/chat/conversations/${team.id}/messages?limit=1`)).json().items[0]
  t.equal((await on(h.app, alice, 'POST', `/api/chat/conversations/${team.id}/read`, { messageId: latest.id })).statusCode, 204)
  t.equal((await unreadOnA(alice, team.id))?.unreadCount, 0, 'a read marker through A: at once')

  // Writes through instance B reach A's memory through PostgreSQL's notifications.
  t.equal((await on(other, bob, 'POST', `/api/chat/conversations/${team.id}/messages`, { text: 'via B', clientMessageId: 'b1' })).statusCode, 201)
  t.ok(await seesOnA(alice, (c) => c?.unreadCount === 1), 'a message through B')
  const viaB = (await on(other, alice, 'GET', `/api/chat/conversations/${team.id}/messages?limit=1`)).json().items[0]
  t.equal((await on(other, alice, 'POST', `/api/chat/conversations/${team.id}/read`, { messageId: viaB.id })).statusCode, 204)
  t.ok(await seesOnA(alice, (c) => c?.unreadCount === 0), 'a read marker through B')
  t.equal((await on(other, alice, 'PATCH', `/api/chat/conversations/${team.id}`, { title: 'Renamed' })).statusCode, 200)
  t.ok(await seesOnA(bob, (c) => c?.title === 'Renamed'), 'a rename through B')
  t.equal((await list(h.app, carol)).body.includes(team.id), false)
  t.equal((await on(other, alice, 'POST', `/api/chat/conversations/${team.id}/members`, { userId: carol.userId })).statusCode, 201)
  t.ok(await seesOnA(carol, (c) => c !== undefined), 'joining through B')
  t.equal((await on(other, alice, 'DELETE', `/api/chat/conversations/${team.id}/members/${carol.userId}`)).statusCode, 204)
  t.ok(await seesOnA(carol, (c) => c === undefined), 'leaving through B: gone from the list')
  await admin.query('UPDATE chat.conversations SET title = $2 WHERE id = $1', [team.id, 'Renamed in SQL'])
  t.ok(await seesOnA(alice, (c) => c?.title === 'Renamed in SQL'), 'a change no chat code made')
  t.equal((await on(other, alice, 'DELETE', `/api/chat/conversations/${team.id}`)).statusCode, 204)
  t.ok(await seesOnA(bob, (c) => c === undefined), 'a deleted conversation')
  t.same(await list(h.app, bob), await list(uncached, bob), 'and in the end A answers what the database holds')
})

t.test('while the notification connection is lost, lists come from the database', async (t) => {
  const h = await chatHarness(t)
  const admin = new pg.Pool({ connectionString: h.stack.databaseUrl, max: 1 })
  t.teardown(() => admin.end())
  const [alice, bob] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Outage', [bob])
  const titleOnList = async () => (await h.as(bob, 'GET', '/api/chat/conversations')).json().items[0]?.title
  const listener = h.app.messageCacheListener!
  t.equal(await titleOnList(), 'Outage')
  await admin.query('SELECT pg_terminate_backend($1)', [listener.backendPid])
  t.ok(await eventually(async () => !listener.isLive), 'the loss is noticed')
  await admin.query('UPDATE chat.conversations SET title = $2 WHERE id = $1', [conv.id, 'Changed while deaf'])
  const hits = h.app.conversationListCache!.stats.hits
  t.equal(await titleOnList(), 'Changed while deaf')
  t.equal(h.app.conversationListCache!.stats.hits, hits, 'no hit while deaf')
  t.ok(await eventually(async () => listener.isLive, 5000), 'it reconnects by itself')
  await titleOnList()
  await titleOnList()
  t.ok(h.app.conversationListCache!.stats.hits > hits, 'and the cache serves again')
})

t.test('a forged user notification only costs a miss', async (t) => {
  const h = await chatHarness(t)
  const other = new pg.Pool({ connectionString: h.stack.databaseUrl, max: 1 })
  t.teardown(() => other.end())
  const [alice, bob] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
  await h.createConversation(alice, 'Hints', [bob])
  const list = async () => (await h.as(bob, 'GET', '/api/chat/conversations')).body
  const first = await list()
  const lists = h.app.conversationListCache!
  for (const junk of ['u:', 'u:nope', `u:${bob.userId} `, `U:${bob.userId}`]) await other.query('SELECT pg_notify($1, $2)', ['chat_changes', junk])
  await new Promise((r) => setTimeout(r, 200))
  const before = { ...lists.stats }
  t.equal(await list(), first)
  t.equal(lists.stats.hits, before.hits + 1, 'malformed user payloads are ignored')
  await other.query('SELECT pg_notify($1, $2)', ['chat_changes', `u:${bob.userId}`])
  t.ok(await eventually(async () => (await list()) === first && lists.stats.misses > before.misses), 'a forged user id costs a miss, nothing else')
})
