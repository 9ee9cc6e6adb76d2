import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Compile } from 'typebox/compile'
import { UserEventSchema } from '@palisade/contracts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildService, type TestUser } from '@palisade/testkit'
import filesApp from '@palisade/files'
import { acting, chatHarness, collectEvents, multipart } from '../../../services/chat/test/helpers.js'

t.test('messages', async (t) => {
  const h = await chatHarness(t)
  const [alice, bob] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Chat', [bob])
  const bobEvents = collectEvents(h.nc, bob.userId)
  const url = `/api/chat/conversations/${conv.id}/messages`

  t.test('send, idempotent retry, event to members', async (t) => {
    const first = await h.as(alice, 'POST', url, { text: 'hello bob', clientMessageId: 'k-1' })
    t.equal(first.statusCode, 201)
    const msg = first.json()
    t.match(msg, {
      conversationId: conv.id,
      senderId: alice.userId,
      text: 'hello bob',
      clientMessageId: 'k-1',
      author: { kind: 'user' },
      attachments: [],
      editedAt: null
    })
    const ev = await bobEvents.waitFor((e) => e.type === 'message.created' && (e.message as { id: string }).id === msg.id)
    t.ok(Compile(UserEventSchema).Check(ev), 'the event matches the contract')

    const retry = await h.as(alice, 'POST', url, { text: 'hello bob', clientMessageId: 'k-1' })
    t.equal(retry.statusCode, 200, 'a retry answers 200')
    t.equal(retry.json().id, msg.id, 'with the same message')
    const sameIdOtherSender = await h.as(bob, 'POST', url, { text: 'hi', clientMessageId: 'k-1' })
    t.equal(sameIdOtherSender.statusCode, 201, 'client ids are per sender')

    const results = await Promise.all(Array.from({ length: 8 }, () => h.as(alice, 'POST', url, { text: 'race', clientMessageId: 'k-race' })))
    t.same(results.map((r) => r.statusCode).sort(), [200, 200, 200, 200, 200, 200, 200, 201], 'concurrent retries: one creates')
    t.equal(new Set(results.map((r) => r.json().id)).size, 1, 'all answer the same message')
    const count = await h.app.pg.query("SELECT count(*)::int AS n FROM chat.messages WHERE client_message_id = 'k-race'")
    t.equal(count.rows[0].n, 1, 'one row')
  })

  t.test('validation', async (t) => {
    const bad: unknown[] = [
      { text: '', clientMessageId: 'a' },
      { text: 'x'.repeat(8001), clientMessageId: 'a' },
      { text: 'nul \u0000 byte', clientMessageId: 'a' },
      { text: 'ok', clientMessageId: 'has space' },
      { text: 'ok', clientMessageId: 'x'.repeat(65) },
      { text: 'ok', clientMessageId: 'a', senderId: bob.userId },
      { text: 'ok' }
    ]
    for (const body of bad) {
      const res = await h.as(alice, 'POST', url, body)
      t.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 60))
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    }
    const max = await h.as(alice, 'POST', url, { text: 'é'.repeat(8000), clientMessageId: 'max' })
    t.equal(max.statusCode, 201, '8000 characters are fine')
    const lines = await h.as(alice, 'POST', url, { text: 'line\nbreak\ttab', clientMessageId: 'lines' })
    t.equal(lines.statusCode, 201)
    let res = await h.as(alice, 'GET', `${url}?limit=101`)
    t.equal(res.statusCode, 400)
    res = await h.as(alice, 'GET', `${url}?before=${Buffer.from('c:5').toString('base64url')}`)
    t.equal(res.statusCode, 400, 'a cursor of another kind')
  })

  t.test('attachments: files shared with this conversation only (asked of the real files service)', async (t) => {
    const storage = await mkdtemp(join(tmpdir(), 'palisade-chat-files-'))
    t.teardown(() => rm(storage, { recursive: true, force: true }))
    const files = await buildService(t, filesApp, { ...h.stack.config(), FILES_STORAGE_DIR: storage }, { service: 'files' })
    const upload = async (user: TestUser, conversationId?: string): Promise<string> => {
      const headers = await h.stack.identityHeaders(user, { method: 'POST', uri: '/api/files' })
      const body = multipart([
        ...(conversationId ? [{ name: 'conversationId', value: conversationId }] : []),
        { name: 'file', filename: 'notes.txt', data: Buffer.from('some notes'), contentType: 'text/plain' }
      ])
      const res = await files.inject({ method: 'POST', url: '/api/files', headers: { ...headers, ...body.headers }, payload: body.payload })
      if (res.statusCode !== 201) throw new Error(`upload: ${res.statusCode} ${res.body}`)
      return res.json().id
    }
    const other = await h.createConversation(bob, 'Elsewhere')
    const shared = await upload(alice, conv.id)
    const privateFile = await upload(alice)
    const sharedElsewhere = await upload(bob, other.id)

    let res = await h.as(alice, 'POST', url, { text: 'see file', clientMessageId: 'att-1', attachments: [shared] })
    t.equal(res.statusCode, 201)
    t.same(res.json().attachments, [shared])
    const row = await h.app.pg.query('SELECT payload FROM chat.messages WHERE id = $1', [res.json().id])
    t.equal(row.rows[0].payload, JSON.stringify(res.json()), 'the stored payload lists the attachment as the API does')
    res = await h.as(alice, 'POST', url, { text: 'x', clientMessageId: 'att-2', attachments: [privateFile] })
    t.equal(res.statusCode, 400, 'a file not shared with the conversation')
    res = await h.as(alice, 'POST', url, { text: 'x', clientMessageId: 'att-3', attachments: [sharedElsewhere] })
    t.equal(res.statusCode, 404, "someone else's file the sender cannot see")
    res = await h.as(alice, 'POST', url, { text: 'x', clientMessageId: 'att-4', attachments: [randomUUID()] })
    t.equal(res.statusCode, 404, 'a file that does not exist')
    const n = await h.app.pg.query("SELECT count(*)::int AS n FROM chat.messages WHERE client_message_id LIKE 'att-%'")
    t.equal(n.rows[0].n, 1, 'refused messages were not stored')
  })

  t.test("the stored payload is the API's JSON byte for byte: compact, in schema order, escaped alike", async (t) => {
    const stored = async (id: string) => (await h.app.pg.query('SELECT payload FROM chat.messages WHERE id = $1', [id])).rows[0].payload as string
    const tricky = 'quote " backslash \\ tab \t newline \n </script> ünïcødé 🦊 \r \u2028 / end'
    const sent = await h.as(alice, 'POST', url, { text: tricky, clientMessageId: 'payload-1' })
    t.equal(sent.statusCode, 201)
    t.equal(await stored(sent.json().id), JSON.stringify(sent.json()), 'a user message with characters JSON must escape')
    t.notMatch(await stored(sent.json().id), /" : |, "/, 'no blanks around separators')

    const edited = await h.as(alice, 'PATCH', `${url}/${sent.json().id}`, { text: 'edited "again"' })
    t.equal(edited.statusCode, 200)
    t.type(edited.json().editedAt, 'string')
    t.equal(await stored(sent.json().id), JSON.stringify(edited.json()), 'an edit rewrites it, editedAt included')

    const runId = randomUUID()
    const agent = await h.nc.request(
      'chat.agent.message.create',
      JSON.stringify({ conversationId: conv.id, text: 'agent answer', clientMessageId: `agent-run:${runId}`, agentRunId: runId }),
      { timeout: 3000, headers: acting(alice.userId, alice.sessionId) }
    )
    const { message } = agent.json<{ message: { id: string; author: object } }>()
    t.same(message.author, { kind: 'agent', agentRunId: runId })
    const page = await h.as(alice, 'GET', `${url}?limit=1`)
    t.equal(page.json().items[0].id, message.id)
    t.equal(await stored(message.id), JSON.stringify(page.json().items[0]), 'an agent message, as the list serves it')
  })

  t.test('paging with before/limit', async (t) => {
    const c = await h.createConversation(alice, 'Paging', [bob])
    const u = `/api/chat/conversations/${c.id}/messages`
    const sent: string[] = []
    for (let i = 0; i < 7; i++) sent.push((await h.send(i % 2 ? bob : alice, c.id, `m${i}`)).id)
    const seen: string[] = []
    let before: string | null = null
    let pages = 0
    do {
      const res = await h.as(bob, 'GET', `${u}?limit=3${before ? `&before=${before}` : ''}`)
      t.equal(res.statusCode, 200)
      const page = res.json()
      seen.push(...page.items.map((m: { id: string }) => m.id))
      before = page.nextCursor
      pages++
    } while (before)
    t.equal(pages, 3)
    t.same(seen, [...sent].reverse(), 'newest first, nothing missed or repeated')
    const empty = await h.createConversation(alice, 'Empty')
    const res = await h.as(alice, 'GET', `/api/chat/conversations/${empty.id}/messages`)
    t.same(res.json(), { items: [], nextCursor: null })
  })

  t.test('edit and delete own messages only', async (t) => {
    const mine = await h.send(alice, conv.id, 'typo')
    let res = await h.as(bob, 'PATCH', `${url}/${mine.id}`, { text: 'bob was here' })
    t.equal(res.statusCode, 403, "bob cannot edit alice's message")
    res = await h.as(bob, 'DELETE', `${url}/${mine.id}`)
    t.equal(res.statusCode, 403, "bob cannot delete alice's message")
    res = await h.as(alice, 'PATCH', `${url}/${randomUUID()}`, { text: 'x' })
    t.equal(res.statusCode, 404)
    res = await h.as(alice, 'PATCH', `${url}/${mine.id}`, { text: 'fixed' })
    t.equal(res.statusCode, 200)
    t.equal(res.json().text, 'fixed')
    t.type(res.json().editedAt, 'string')
    await bobEvents.waitFor((e) => e.type === 'message.updated' && (e.message as { text: string }).text === 'fixed')
    res = await h.as(alice, 'DELETE', `${url}/${mine.id}`)
    t.equal(res.statusCode, 204)
    await bobEvents.waitFor((e) => e.type === 'message.deleted' && e.messageId === mine.id)
    res = await h.as(alice, 'DELETE', `${url}/${mine.id}`)
    t.equal(res.statusCode, 404, 'gone')
    const list = await h.as(bob, 'GET', url)
    t.notOk(list.json().items.some((m: { id: string }) => m.id === mine.id))
  })

  t.test('a message moves its conversation to the top of the list', async (t) => {
    const older = await h.createConversation(bob, 'Older')
    await h.createConversation(bob, 'Newer')
    await h.send(bob, older.id, 'bump')
    const res = await h.as(bob, 'GET', '/api/chat/conversations?limit=1')
    t.equal(res.json().items[0].id, older.id)
  })
})
