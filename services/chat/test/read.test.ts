import t from 'tap'
import { randomUUID } from 'node:crypto'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Compile } from 'typebox/compile'
import { CHAT_LIMITS, ConversationPageSchema, UserEventSchema, type ConversationWithUnread } from '@palisade/contracts'
import { createDatabase, createPool, runMigrations } from '@palisade/platform'
import { createTestDatabase } from '@palisade/platform/testing'
import type { TestUser } from '@palisade/testkit'
import { migrationsFolder } from '../src/app.js'
import { acting, chatHarness, collectEvents } from './helpers.js'

t.test('read markers and unread counts', async (t) => {
  const h = await chatHarness(t)
  const [alice, bob, carol, dave, mallory] = await Promise.all([
    h.stack.createUser(),
    h.stack.createUser(),
    h.stack.createUser(),
    h.stack.createUser(),
    h.stack.createUser()
  ])
  const conv = await h.createConversation(alice, 'Team', [bob, carol])
  const other = await h.createConversation(alice, 'Other', [bob])
  const read = (user: TestUser, conversationId: string, body: unknown) => h.as(user, 'POST', `/api/chat/conversations/${conversationId}/read`, body)
  /** the caller's unread count of a conversation, from the list (a fresh request every time: what a reload sees) */
  const unreadInList = async (user: TestUser, conversationId: string): Promise<number | undefined> => {
    const res = await h.as(user, 'GET', '/api/chat/conversations?limit=100')
    t.equal(res.statusCode, 200)
    t.ok(Compile(ConversationPageSchema).Check(res.json()), 'the page matches the contract')
    return (res.json().items as ConversationWithUnread[]).find((c) => c.id === conversationId)?.unreadCount
  }
  /** After a write made by hand in the database, the list cache hears of it at commit (a notification), not at once. */
  const eventuallyUnread = async (user: TestUser, conversationId: string, expected: number): Promise<number | undefined> => {
    const deadline = Date.now() + 5000
    let seen = await unreadInList(user, conversationId)
    while (seen !== expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
      seen = await unreadInList(user, conversationId)
    }
    return seen
  }
  const unreadOfOne = async (user: TestUser, conversationId: string): Promise<number> => {
    const res = await h.as(user, 'GET', `/api/chat/conversations/${conversationId}`)
    t.equal(res.statusCode, 200)
    return res.json().unreadCount
  }
  const markerOf = async (user: TestUser, conversationId: string): Promise<number> => {
    const r = await h.app.pg.query('SELECT last_read_seq::int AS s FROM chat.members WHERE conversation_id = $1 AND user_id = $2', [
      conversationId,
      user.userId
    ])
    return r.rows[0].s
  }

  t.test('others posting makes messages unread; your own do not count', async (t) => {
    t.equal(await unreadInList(alice, conv.id), 0, 'a new conversation has nothing unread')
    t.equal(await unreadOfOne(alice, conv.id), 0)
    await h.send(bob, conv.id, 'one')
    await h.send(bob, conv.id, 'two')
    await h.send(carol, conv.id, 'three')
    t.equal(await unreadInList(alice, conv.id), 3, "bob's and carol's messages are unread for alice")
    t.equal(await unreadOfOne(alice, conv.id), 3, 'the single conversation says the same')
    t.equal(await unreadInList(bob, conv.id), 1, "bob's own messages never count: only carol's")
    t.equal(await unreadInList(carol, conv.id), 0, 'sending marks everything before it read')
    t.equal(await unreadInList(alice, other.id), 0, 'other conversations are unaffected')

    await h.send(alice, conv.id, 'mine')
    t.equal(await unreadInList(alice, conv.id), 0, "alice's message marked the three before it read")
    t.equal(await unreadInList(bob, conv.id), 2, "for bob: carol's and alice's")
    // A marker set back by hand (the API never moves one back) counts everything after it, her own message too
    await h.app.pg.query('UPDATE chat.members SET last_read_seq = 0, read_count = 0 WHERE conversation_id = $1 AND user_id = $2', [conv.id, alice.userId])
    t.equal(await eventuallyUnread(alice, conv.id, 4), 4)
  })

  t.test('marking read: only forward, and a fresh request (a reload) sees it', async (t) => {
    const events = collectEvents(h.nc, alice.userId)
    const bobEvents = collectEvents(h.nc, bob.userId)
    const list = await h.as(alice, 'GET', `/api/chat/conversations/${conv.id}/messages`)
    const [newest, , , oldest] = list.json().items as Array<{ id: string; text: string }>
    t.equal(newest!.text, 'mine')
    t.equal(oldest!.text, 'one')

    let res = await read(alice, conv.id, { messageId: oldest!.id })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    t.equal(await unreadInList(alice, conv.id), 3, 'read up to and including "one": two, three and her own "mine" after it')
    const ev = await events.waitFor((e) => e.type === 'conversation.read')
    t.ok(Compile(UserEventSchema).Check(ev), 'the event matches the contract')
    t.match(ev, { type: 'conversation.read', conversationId: conv.id, messageId: oldest!.id, unreadCount: 3 })

    res = await read(alice, conv.id, { messageId: newest!.id })
    t.equal(res.statusCode, 204)
    t.equal(await unreadInList(alice, conv.id), 0)
    t.equal(await unreadOfOne(alice, conv.id), 0)
    await events.waitFor((e) => e.type === 'conversation.read' && e.messageId === newest!.id && e.unreadCount === 0)
    const marker = await markerOf(alice, conv.id)

    res = await read(alice, conv.id, { messageId: oldest!.id })
    t.equal(res.statusCode, 204, 'an older message answers 204 too')
    t.equal(await markerOf(alice, conv.id), marker, 'but the marker does not move back')
    t.equal(await unreadInList(alice, conv.id), 0)
    await h.send(bob, conv.id, 'four')
    t.equal(await unreadInList(alice, conv.id), 1, 'a new message after the marker')
    await new Promise((r) => setTimeout(r, 200))
    t.equal(events.events.filter((e) => e.type === 'conversation.read').length, 2, 'no event when the marker did not move')
    t.equal(bobEvents.events.filter((e) => e.type === 'conversation.read').length, 0, "nobody else hears about alice's reading")

    // Concurrent marks (two tabs): the marker ends at the newest of them
    const page = (await h.as(bob, 'GET', `/api/chat/conversations/${conv.id}/messages`)).json().items as Array<{ id: string }>
    await Promise.all(page.map((m) => read(bob, conv.id, { messageId: m.id })))
    const r = await h.app.pg.query('SELECT max(seq)::int AS s FROM chat.messages WHERE conversation_id = $1', [conv.id])
    t.equal(await markerOf(bob, conv.id), r.rows[0].s, 'concurrent marks: the newest wins')
  })

  t.test('never past the latest message: only messages of this conversation', async (t) => {
    const latest = (await h.as(carol, 'GET', `/api/chat/conversations/${conv.id}/messages?limit=1`)).json().items[0]
    t.equal((await read(carol, conv.id, { messageId: latest.id })).statusCode, 204)
    const before = await markerOf(carol, conv.id)
    await h.send(bob, conv.id, 'five')
    // A newer message of another conversation: its position is past this one's latest message
    const elsewhere = await h.send(bob, other.id, 'elsewhere')
    const mine = await h.send(alice, other.id, 'mine elsewhere')
    let res = await read(alice, conv.id, { messageId: elsewhere.id })
    t.equal(res.statusCode, 404, "another conversation's message")
    t.equal(res.json().code, 'NOT_FOUND')
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    res = await read(carol, conv.id, { messageId: mine.id })
    t.equal(res.statusCode, 404, 'also one of a conversation the caller is not in')
    t.equal(res.json().detail, (await read(carol, conv.id, { messageId: randomUUID() })).json().detail, 'the same answer as a message that does not exist')
    t.equal(await markerOf(carol, conv.id), before, 'the marker did not move')
    t.equal(await unreadInList(carol, conv.id), 1)

    // A deleted message is gone: it no longer counts, and marking it is a 404 like any unknown message
    const gone = await h.send(bob, conv.id, 'oops')
    t.equal(await unreadInList(carol, conv.id), 2)
    t.equal((await h.as(bob, 'DELETE', `/api/chat/conversations/${conv.id}/messages/${gone.id}`)).statusCode, 204)
    t.equal(await unreadInList(carol, conv.id), 1, 'deleted messages do not count')
    t.equal((await read(carol, conv.id, { messageId: gone.id })).statusCode, 404)
  })

  t.test('members only: 404 as everywhere else', async (t) => {
    const msg = await h.send(bob, conv.id, 'for members')
    const notMember = await read(mallory, conv.id, { messageId: msg.id })
    t.equal(notMember.statusCode, 404, 'a non-member')
    t.equal(notMember.json().code, 'NOT_FOUND')
    const unknown = await read(mallory, randomUUID(), { messageId: msg.id })
    t.equal(unknown.statusCode, 404, 'a conversation id that does not exist')
    t.same(unknown.json().detail, notMember.json().detail, 'the same answer: no existence oracle')
    const foreign = await read(alice, randomUUID(), { messageId: msg.id })
    t.equal(foreign.statusCode, 404, "a member's message under a foreign conversation id")
    t.same(foreign.json().detail, notMember.json().detail)
    t.equal((await h.as(mallory, 'GET', `/api/chat/conversations/${conv.id}`)).statusCode, 404, 'no unread count for a non-member either')
    t.equal(await unreadInList(mallory, conv.id), undefined)
  })

  t.test('bad bodies: 400 problem+json, nothing written', async (t) => {
    const marker = await markerOf(alice, conv.id)
    const msg = await h.send(bob, conv.id, 'validate me')
    const bad: unknown[] = [{}, { messageId: 'nope' }, { messageId: msg.id, extra: 1 }, { seq: 5 }, { messageId: 5 }, [msg.id], null]
    for (const body of bad) {
      const res = await read(alice, conv.id, body)
      t.equal(res.statusCode, 400, JSON.stringify(body))
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      t.equal(res.json().code, 'VALIDATION_FAILED')
    }
    const noBody = await read(alice, conv.id, undefined)
    t.equal(noBody.statusCode, 400, 'no body')
    const text = await h.as(alice, 'POST', `/api/chat/conversations/${conv.id}/read`, msg.id)
    t.equal(text.statusCode, 415, 'not JSON')
    t.equal(text.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal((await read(alice, 'not-a-uuid', { messageId: msg.id })).statusCode, 400, 'a bad conversation id')
    t.equal(await markerOf(alice, conv.id), marker, 'the marker did not move')
  })

  t.test('a member added later starts at the latest message', async (t) => {
    const res = await h.as(alice, 'POST', `/api/chat/conversations/${conv.id}/members`, { userId: dave.userId })
    t.equal(res.statusCode, 201)
    t.equal(await unreadInList(dave, conv.id), 0, "joining does not turn the conversation's history into unread messages")
    await h.send(bob, conv.id, 'welcome dave')
    t.equal(await unreadInList(dave, conv.id), 1, 'what comes after joining is unread')
    const again = await h.as(alice, 'POST', `/api/chat/conversations/${conv.id}/members`, { userId: dave.userId })
    t.equal(again.statusCode, 200)
    t.equal(await unreadInList(dave, conv.id), 1, 'adding an existing member again leaves the marker alone')
  })

  t.test("agent messages are unread for the user who ran the agent, and do not move that user's marker", async (t) => {
    const fresh = await h.createConversation(alice, 'Agent', [bob])
    const runId = randomUUID()
    const msg = await h.nc.request(
      'chat.agent.message.create',
      JSON.stringify({ conversationId: fresh.id, text: 'agent answer', clientMessageId: `agent-run:${runId}`, agentRunId: runId }),
      { timeout: 3000, headers: acting(alice.userId, alice.sessionId) }
    )
    t.match(msg.json(), { created: true })
    t.equal(await unreadInList(alice, fresh.id), 1, 'alice did not write it')
    t.equal(await unreadInList(bob, fresh.id), 1)
    t.equal(await markerOf(alice, fresh.id), 0)
    // A message sent over NATS (the gateway's WebSocket sends) marks like one sent over HTTP
    await h.nc.request('chat.message.create', JSON.stringify({ conversationId: fresh.id, text: 'thanks', clientMessageId: 'ws-thanks' }), {
      timeout: 3000,
      headers: acting(alice.userId, alice.sessionId)
    })
    t.equal(await unreadInList(alice, fresh.id), 0)
  })

  t.test('concurrent sends, reads and deletes leave the counters equal to a recount', async (t) => {
    const busy = await h.createConversation(alice, 'Race', [bob, carol])
    const sent = await Promise.all(Array.from({ length: 30 }, (_, i) => h.send([alice, bob, carol][i % 3]!, busy.id, `race ${i}`)))
    const own = sent.filter((m) => m.senderId !== alice.userId).slice(0, 8)
    await Promise.all([
      ...own.map((m) => h.as(m.senderId === bob.userId ? bob : carol, 'DELETE', `/api/chat/conversations/${busy.id}/messages/${m.id}`)),
      ...Array.from({ length: 10 }, (_, i) => h.send([alice, bob, carol][i % 3]!, busy.id, `more ${i}`))
    ])
    const left = (await h.as(alice, 'GET', `/api/chat/conversations/${busy.id}/messages?limit=50`)).json().items as Array<{ id: string }>
    await Promise.all([...left.map((m, i) => read([alice, bob, carol][i % 3]!, busy.id, { messageId: m.id })), h.send(carol, busy.id, 'during the reads')])
    await h.send(bob, busy.id, 'after the race')
    // The definition the counters replace: messages after the marker, not the member's own.
    const r = await h.app.pg.query(
      `SELECT m.user_id, LEAST($2::int, c.message_count - m.read_count) AS counter,
              (SELECT count(*)::int FROM chat.messages x WHERE x.conversation_id = m.conversation_id AND x.seq > m.last_read_seq
                 AND (x.sender_id <> m.user_id OR x.author_kind = 'agent')) AS recount
       FROM chat.members m JOIN chat.conversations c ON c.id = m.conversation_id WHERE c.id = $1`,
      [busy.id, CHAT_LIMITS.unreadCountMax]
    )
    t.equal(r.rows.length, 3)
    for (const row of r.rows) t.equal(row.counter, row.recount, `member ${row.user_id}`)
    for (const user of [alice, bob, carol]) t.equal(await unreadInList(user, busy.id), r.rows.find((x) => x.user_id === user.userId)!.recount)
  })

  t.test(`counts stop at ${CHAT_LIMITS.unreadCountMax}`, async (t) => {
    const busy = await h.createConversation(bob, 'Busy', [alice])
    await h.app.pg.query(
      `INSERT INTO chat.messages (conversation_id, sender_id, text, client_message_id)
       SELECT $1, $2, 'bulk ' || i, 'bulk-' || i FROM generate_series(1, $3::int) i`,
      [busy.id, bob.userId, CHAT_LIMITS.unreadCountMax + 5]
    )
    // what sendMessage does per message, for the bulk insert
    await h.app.pg.query('UPDATE chat.conversations SET message_count = message_count + $2 WHERE id = $1', [busy.id, CHAT_LIMITS.unreadCountMax + 5])
    t.equal(await eventuallyUnread(alice, busy.id, CHAT_LIMITS.unreadCountMax), CHAT_LIMITS.unreadCountMax)
    t.equal(await unreadOfOne(alice, busy.id), CHAT_LIMITS.unreadCountMax)
    const events = collectEvents(h.nc, alice.userId)
    const r = await h.app.pg.query('SELECT id FROM chat.messages WHERE conversation_id = $1 ORDER BY seq LIMIT 1', [busy.id])
    t.equal((await read(alice, busy.id, { messageId: r.rows[0].id })).statusCode, 204)
    t.equal(await unreadInList(alice, busy.id), CHAT_LIMITS.unreadCountMax, 'still more than the cap after reading one')
    t.match(await events.waitFor((e) => e.type === 'conversation.read'), { unreadCount: CHAT_LIMITS.unreadCountMax })
  })
})

t.test('the read-marker and message-payload migrations apply to an existing database', async (t) => {
  const db = await createTestDatabase('t')
  t.teardown(() => db.drop())
  const pool = createPool({ url: db.url, name: 'migration-test', max: 2 })
  t.teardown(() => pool.end())

  // The migrations as they were before read markers: only 0000
  const dir = await mkdtemp(join(tmpdir(), 'palisade-chat-migrations-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(migrationsFolder, dir, { recursive: true })
  const journal = JSON.parse(await readFile(join(dir, 'meta', '_journal.json'), 'utf8'))
  t.ok(journal.entries.length >= 2)
  journal.entries = journal.entries.slice(0, 1)
  await writeFile(join(dir, 'meta', '_journal.json'), JSON.stringify(journal))
  await runMigrations(createDatabase(pool), dir, 'chat')

  const [owner, member] = [randomUUID(), randomUUID()]
  const conv = await pool.query(`INSERT INTO chat.conversations (title, owner_id, member_count) VALUES ('old', $1, 2) RETURNING id`, [owner])
  const empty = await pool.query(`INSERT INTO chat.conversations (title, owner_id, member_count) VALUES ('empty', $1, 1) RETURNING id`, [owner])
  const convId = conv.rows[0].id
  await pool.query(`INSERT INTO chat.members (conversation_id, user_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'member'), ($4, $2, 'owner')`, [
    convId,
    owner,
    member,
    empty.rows[0].id
  ])
  await pool.query(
    `INSERT INTO chat.messages (conversation_id, sender_id, text, client_message_id) SELECT $1, $2, 'm' || i, 'm' || i FROM generate_series(1, 3) i`,
    [convId, owner]
  )

  await runMigrations(createDatabase(pool), migrationsFolder, 'chat')
  const latest = (await pool.query('SELECT max(seq)::int AS s FROM chat.messages')).rows[0].s
  const markers = await pool.query('SELECT conversation_id, user_id, last_read_seq::int AS s FROM chat.members ORDER BY conversation_id = $1 DESC, user_id', [
    convId
  ])
  t.same(
    markers.rows.filter((m) => m.conversation_id === convId).map((m) => m.s),
    [latest, latest],
    'existing members start with what was already there read'
  )
  t.same(
    markers.rows.filter((m) => m.conversation_id !== convId).map((m) => m.s),
    [0],
    'an empty conversation: 0'
  )
  const counters = await pool.query(
    'SELECT c.message_count, m.read_count FROM chat.members m JOIN chat.conversations c ON c.id = m.conversation_id WHERE c.id = $1',
    [convId]
  )
  t.same(
    counters.rows,
    [
      { message_count: 3, read_count: 3 },
      { message_count: 3, read_count: 3 }
    ],
    '0005: the counters of existing conversations and members (nothing unread)'
  )
  const index = await pool.query("SELECT indexdef FROM pg_indexes WHERE schemaname = 'chat' AND indexname = 'messages_conversation_seq_idx'")
  t.match(index.rows[0].indexdef, /\(conversation_id, seq, sender_id, author_kind\)/, 'unread counts can be index-only scans')
  // 0002: messages written before it get their stored API JSON too, and the trigger keeps it current.
  const stored = await pool.query(`SELECT payload, id, conversation_id, sender_id, text, client_message_id, created_at FROM chat.messages ORDER BY seq`)
  t.equal(stored.rows.length, 3)
  for (const row of stored.rows) {
    t.equal(
      row.payload,
      JSON.stringify({
        id: row.id,
        conversationId: row.conversation_id,
        senderId: row.sender_id,
        author: { kind: 'user' },
        text: row.text,
        clientMessageId: row.client_message_id,
        attachments: [],
        createdAt: (row.created_at as Date).toISOString(),
        editedAt: null,
        // 0009: threads, mentions and reactions
        parentId: null,
        mentions: [],
        massMention: null,
        thread: null,
        reactions: []
      }),
      `backfilled payload of ${row.text}: compact (0004), in MessageSchema's key order, byte for byte what JSON.stringify writes`
    )
  }
  await pool.query(`UPDATE chat.messages SET text = 'edited', edited_at = now() WHERE id = $1`, [stored.rows[0].id])
  const edited = JSON.parse((await pool.query('SELECT payload FROM chat.messages WHERE id = $1', [stored.rows[0].id])).rows[0].payload)
  t.equal(edited.text, 'edited', 'an update rewrites the payload')
  t.type(edited.editedAt, 'string')

  await runMigrations(createDatabase(pool), migrationsFolder, 'chat')
  t.pass('applying again is a no-op')
})
