import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Compile } from 'typebox/compile'
import { CHAT_LIMITS, MessageAuthorSchema, MessagePageSchema, MessageSchema } from '@palisade/contracts'
import { MESSAGE_COLUMNS, MESSAGE_FIELD_COLUMNS, toMessage, type MessageDbRow } from '../src/lib/rows.js'
import { createChatStore } from '../src/store/context.js'
import { listMessages } from '../src/store/messages.js'
import { acting, chatHarness } from './helpers.js'

/**
 * MessageSchema is the one definition of a message's shape. rows.ts (columns and toMessage) and the
 * PL/pgSQL trigger that stores each message's API JSON (migrations 0002/0004) are checked here
 * against it, and so is the pre-built JSON page the list route sends.
 */
const schemaKeys = Object.keys(MessageSchema.properties)
const checkMessage = Compile(MessageSchema)
const checkPage = Compile(MessagePageSchema)

t.test('rows.ts reads the fields of MessageSchema, in its order', async (t) => {
  t.equal(MessageSchema.additionalProperties, false, 'MessageSchema admits no other keys')
  t.ok(
    MessageAuthorSchema.anyOf.every((s) => s.additionalProperties === false),
    'nor do its author variants'
  )
  t.same(Object.keys(MESSAGE_FIELD_COLUMNS), schemaKeys, 'one column entry per schema field, in schema order')
  t.same(MESSAGE_COLUMNS.split(', '), ['seq', ...Object.values(MESSAGE_FIELD_COLUMNS).flat()], 'the query columns are derived from it')
})

t.test('the stored payload, toMessage and the list page agree with MessageSchema for every kind of message', async (t) => {
  const h = await chatHarness(t)
  const [alice, bob] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Shapes', [bob])
  const url = `/api/chat/conversations/${conv.id}/messages`

  const plain = await h.send(alice, conv.id, 'hello')
  const tricky = await h.send(bob, conv.id, 'quote " backslash \\ tab \t newline \n </script> ünïcødé 🦊 \r \u2028 end')
  await h.send(bob, conv.id, 'é'.repeat(CHAT_LIMITS.textMaxLength))
  const edited = await h.send(alice, conv.id, 'typo')
  t.equal((await h.as(alice, 'PATCH', `${url}/${edited.id}`, { text: 'fixed' })).statusCode, 200)
  // A reply that mentions (its parent then has a thread summary) and a message with reactions.
  const reply = await h.as(bob, 'POST', url, { text: 're', clientMessageId: 'reply', parentId: plain.id, mentions: [alice.userId] })
  t.equal(reply.statusCode, 201, reply.body)
  t.equal((await h.as(bob, 'PUT', `${url}/${tricky.id}/reactions`, { emoji: '🦊', reacted: true })).statusCode, 200)
  t.equal((await h.as(alice, 'PUT', `${url}/${tricky.id}/reactions`, { emoji: '👍🏽', reacted: true })).statusCode, 200)
  // Attachments are checked with the files service on the way in; the trigger and toMessage are
  // what is under test here, so the row is written directly.
  const attachments = Array.from({ length: CHAT_LIMITS.attachmentsMax }, () => randomUUID())
  await h.app.pg.query('INSERT INTO chat.messages (conversation_id, sender_id, text, client_message_id, attachments) VALUES ($1, $2, $3, $4, $5::uuid[])', [
    conv.id,
    alice.userId,
    'see files',
    'with-attachments',
    attachments
  ])
  const runId = randomUUID()
  const agent = await h.nc.request(
    'chat.agent.message.create',
    JSON.stringify({ conversationId: conv.id, text: 'agent answer', clientMessageId: `agent-run:${runId}`, agentRunId: runId }),
    { timeout: 3000, headers: acting(alice.userId, alice.sessionId) }
  )
  t.same(agent.json<{ message: { author: unknown } }>().message.author, { kind: 'agent', agentRunId: runId })
  const deleted = await h.send(alice, conv.id, 'gone soon')
  t.equal((await h.as(alice, 'DELETE', `${url}/${deleted.id}`)).statusCode, 204)

  const rows = (
    await h.app.pg.query<MessageDbRow & { payload: string }>(`SELECT ${MESSAGE_COLUMNS}, payload FROM chat.messages WHERE conversation_id = $1 ORDER BY seq`, [
      conv.id
    ])
  ).rows
  t.equal(rows.length, 7, 'deletes are hard: a deleted message has no stored payload left to check')
  const kinds = { plain: plain.id, tricky: tricky.id, edited: edited.id }
  for (const [kind, id] of Object.entries(kinds))
    t.ok(
      rows.some((r) => r.id === id),
      `a ${kind} message is among them`
    )
  t.ok(
    rows.some((r) => r.attachments.length === CHAT_LIMITS.attachmentsMax),
    'one with attachments'
  )
  t.ok(
    rows.some((r) => r.author_kind === 'agent'),
    'an agent message'
  )
  t.ok(
    rows.some((r) => r.edited_at !== null),
    'an edited one'
  )
  t.ok(
    rows.some((r) => r.parent_id !== null && r.mentions.length === 1),
    'a reply with a mention'
  )
  t.ok(
    rows.some((r) => r.reply_count === 1),
    'a parent with a thread'
  )
  t.ok(
    rows.some((r) => r.reactions.includes('🦊')),
    'one with reactions'
  )

  for (const row of rows) {
    const stored: Record<string, unknown> = JSON.parse(row.payload)
    const name = `${row.author_kind} message "${row.text.slice(0, 12)}"`
    t.ok(checkMessage.Check(stored), `${name}: the stored payload validates against MessageSchema`)
    t.same(Object.keys(stored), schemaKeys, `${name}: exactly its keys, in its order`)
    t.same(Object.keys(stored.author as object), row.author_kind === 'agent' ? ['kind', 'agentRunId'] : ['kind'], `${name}: the author's keys`)
    const mapped = toMessage(row)
    t.same(Object.keys(mapped), schemaKeys, `${name}: toMessage builds exactly the schema's keys, in its order`)
    t.equal(row.payload, JSON.stringify(mapped), `${name}: the trigger's JSON is toMessage's, byte for byte`)
  }

  // The list route sends ready JSON text (no serialiser runs), so its bytes are checked here: from
  // the message cache first, then from PostgreSQL, both equal to the object path serialised.
  const store = createChatStore(h.app, { maxMembers: 10 })
  const pages = async (source: string) => {
    for (const query of ['?limit=4', '?limit=100']) {
      const res = await h.as(bob, 'GET', `${url}${query}`)
      t.equal(res.statusCode, 200)
      t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
      const body = JSON.parse(res.body)
      t.ok(checkPage.Check(body), `${source}, ${query}: the bytes validate against MessagePageSchema`)
      const limit = Number(query.slice('?limit='.length))
      const objects = await listMessages(store, bob.userId, conv.id, undefined, limit)
      t.equal(res.body, JSON.stringify(objects), `${source}, ${query}: byte for byte the object page serialised`)
      if (limit === 4) {
        t.type(body.nextCursor, 'string', 'a page with more after it')
        const older = await h.as(bob, 'GET', `${url}?limit=4&before=${body.nextCursor}`)
        t.ok(checkPage.Check(JSON.parse(older.body)), `${source}: an older page validates too`)
        t.equal(older.body, JSON.stringify(await listMessages(store, bob.userId, conv.id, body.nextCursor, 4)))
      }
    }
  }
  const cache = h.app.messageCache!
  // The cache turns on once its notification connection listens; a hit proves it answered.
  const deadline = Date.now() + 3000
  while (cache.stats.hits === 0 && Date.now() < deadline) {
    await h.as(bob, 'GET', `${url}?limit=4`)
    await new Promise((r) => setTimeout(r, 20))
  }
  const hits = cache.stats.hits
  t.ok(hits > 0, 'the message cache answers')
  await pages('cache')
  t.ok(cache.stats.hits > hits, 'those pages came from the cache')
  cache.setLive(false)
  const before = { ...cache.stats }
  await pages('database')
  t.same(cache.stats, before, 'and these from PostgreSQL')
})
