import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Compile } from 'typebox/compile'
import { NATS_HEADERS, UserEventSchema, ChatMessageCreateResponseSchema, MessagePageSchema } from '@palisade/contracts'
import { acting, chatHarness, collectEvents } from './helpers.js'

t.test('NATS API', async (t) => {
  const h = await chatHarness(t)
  const [alice, bob, mallory] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Over NATS', [bob])
  const bobEvents = collectEvents(h.nc, bob.userId)
  const request = async (subject: string, payload: unknown, headers = acting(alice.userId, alice.sessionId)) => {
    const msg = await h.nc.request(subject, JSON.stringify(payload), { timeout: 3000, headers })
    const err = msg.headers?.get(NATS_HEADERS.serviceError)
    return err
      ? { error: Number(msg.headers?.get(NATS_HEADERS.serviceErrorCode)), code: msg.headers?.get(NATS_HEADERS.problemCode) }
      : { body: msg.json<Record<string, unknown>>() }
  }

  t.test('chat.access.check', async (t) => {
    t.same((await request('chat.access.check', { userId: alice.userId, conversationId: conv.id })).body, { member: true, role: 'owner' })
    t.same((await request('chat.access.check', { userId: bob.userId, conversationId: conv.id })).body, { member: true, role: 'member' })
    t.same((await request('chat.access.check', { userId: mallory.userId, conversationId: conv.id })).body, { member: false, role: null })
    t.same((await request('chat.access.check', { userId: alice.userId, conversationId: randomUUID() })).body, { member: false, role: null })
    t.equal((await request('chat.access.check', { userId: 'nope', conversationId: conv.id })).error, 400)
  })

  t.test('chat.message.create acts as the header user, never a payload field', async (t) => {
    const r = await request('chat.message.create', { conversationId: conv.id, text: 'via gateway', clientMessageId: 'n-1' })
    t.ok(Compile(ChatMessageCreateResponseSchema).Check(r.body), 'reply matches the contract')
    t.match(r.body, { created: true, message: { senderId: alice.userId, author: { kind: 'user' }, text: 'via gateway' } })
    const ev = await bobEvents.waitFor((e) => e.type === 'message.created' && (e.message as { text: string }).text === 'via gateway')
    t.ok(Compile(UserEventSchema).Check(ev))
    const again = await request('chat.message.create', { conversationId: conv.id, text: 'via gateway', clientMessageId: 'n-1' })
    t.match(again.body, { created: false, message: { id: (r.body!.message as { id: string }).id } }, 'idempotent')

    t.equal(
      (await request('chat.message.create', { conversationId: conv.id, text: 'x', clientMessageId: 'n-2', senderId: bob.userId })).error,
      400,
      'no sender in the payload'
    )
    t.equal(
      (await request('chat.message.create', { conversationId: conv.id, text: 'x', clientMessageId: 'n-3', agentRunId: randomUUID() })).error,
      400,
      'no agent marking on the user subject'
    )
    const noHeader = await h.nc.request('chat.message.create', JSON.stringify({ conversationId: conv.id, text: 'x', clientMessageId: 'n-4' }), {
      timeout: 3000
    })
    t.equal(noHeader.headers?.get(NATS_HEADERS.serviceErrorCode), '401', 'no acting user: refused')
    t.equal(
      (await request('chat.message.create', { conversationId: conv.id, text: 'x', clientMessageId: 'n-5' }, acting(mallory.userId))).error,
      404,
      'non-member: 404'
    )
  })

  t.test('chat.agent.message.create marks the message as the agent run', async (t) => {
    const runId = randomUUID()
    const r = await request('chat.agent.message.create', {
      conversationId: conv.id,
      text: 'agent answer',
      clientMessageId: `agent-run:${runId}`,
      agentRunId: runId
    })
    t.match(r.body, { created: true, message: { senderId: alice.userId, author: { kind: 'agent', agentRunId: runId } } })
    const members = (await request('chat.members.get', { conversationId: conv.id })).body!.memberIds as string[]
    t.same([...(r.body!.memberIds as string[])].sort(), [...members].sort(), 'with the members it was posted to')
    const again = await request('chat.agent.message.create', {
      conversationId: conv.id,
      text: 'agent answer',
      clientMessageId: `agent-run:${runId}`,
      agentRunId: runId
    })
    t.match(again.body, { created: false, memberIds: r.body!.memberIds }, 'a retry answers the same message and the members now')
    // With the audience the run checked its reads against: posted only if nobody else is a member.
    const partial = await request('chat.agent.message.create', {
      conversationId: conv.id,
      text: 'read beyond',
      clientMessageId: `agent-run:${randomUUID()}`,
      agentRunId: randomUUID(),
      audience: members.filter((m) => m !== bob.userId)
    })
    t.match(partial, { error: 409, code: 'AUDIENCE_CHANGED' }, 'a member outside the checked audience: refused')
    const history = (await request('chat.history.get', { conversationId: conv.id, limit: 5 })).body!.items as { text: string }[]
    t.notOk(
      history.some((m) => m.text === 'read beyond'),
      'and nothing was posted'
    )
    const whole = await request('chat.agent.message.create', {
      conversationId: conv.id,
      text: 'read beyond, checked',
      clientMessageId: `agent-run:${randomUUID()}`,
      agentRunId: randomUUID(),
      audience: members
    })
    t.match(whole.body, { created: true }, 'everyone checked: posted')
    const id = (r.body!.message as { id: string }).id
    const edit = await h.as(alice, 'PATCH', `/api/chat/conversations/${conv.id}/messages/${id}`, { text: 'my words now' })
    t.equal(edit.statusCode, 403, "an agent's message cannot be edited into the user's words")
    t.equal(
      (await request('chat.agent.message.create', { conversationId: conv.id, text: 'x', clientMessageId: 'a-2', agentRunId: runId }, acting(mallory.userId)))
        .error,
      404
    )
  })

  t.test('chat.history.get, chat.search, chat.members.get', async (t) => {
    for (let i = 0; i < 4; i++) await h.send(bob, conv.id, `history ${i}`)
    const hist = await request('chat.history.get', { conversationId: conv.id, limit: 3 })
    const items = hist.body!.items as Array<{ text: string }>
    t.same(
      items.map((m) => m.text),
      ['history 3', 'history 2', 'history 1']
    )
    const older = await request('chat.history.get', { conversationId: conv.id, limit: 3, before: hist.body!.nextCursor })
    t.equal((older.body!.items as unknown[]).length, 3)
    t.equal((await request('chat.history.get', { conversationId: conv.id, limit: 26 })).error, 400, 'NATS pages stay small')
    t.equal((await request('chat.history.get', { conversationId: conv.id }, acting(mallory.userId))).error, 404)

    const found = await request('chat.search', { q: 'history' })
    t.equal((found.body!.items as unknown[]).length, 4)
    t.same((await request('chat.search', { q: 'history' }, acting(mallory.userId))).body!.items, [], "nothing from others' conversations")

    const members = await request('chat.members.get', { conversationId: conv.id })
    t.same(new Set(members.body!.memberIds as string[]), new Set([alice.userId, bob.userId]))
    t.equal((await request('chat.members.get', { conversationId: conv.id }, acting(mallory.userId))).error, 404)
  })

  t.test('the HTTP page (JSON built by PostgreSQL) equals the NATS page (objects), field by field', async (t) => {
    const edited = await h.send(alice, conv.id, 'before edit')
    await h.as(alice, 'PATCH', `/api/chat/conversations/${conv.id}/messages/${edited.id}`, { text: 'after "edit" \\ ünïcødé 😀\n\ttab' })
    const http = await h.as(alice, 'GET', `/api/chat/conversations/${conv.id}/messages?limit=25`)
    const body = http.json()
    t.ok(Compile(MessagePageSchema).Check(body), 'matches MessagePageSchema')
    const nats = await request('chat.history.get', { conversationId: conv.id, limit: 25 })
    t.same(body.items, nats.body!.items, 'same messages, same fields, same dates')
    t.ok(
      body.items.some((m: { author: { kind: string } }) => m.author.kind === 'agent'),
      'an agent message is among them'
    )
    t.ok(
      body.items.some((m: { editedAt: string | null }) => m.editedAt !== null),
      'an edited one too'
    )
    t.equal(body.items.find((m: { id: string }) => m.id === edited.id).text, 'after "edit" \\ ünïcødé 😀\n\ttab')
  })

  t.test('a revoked session cannot act over NATS', async (t) => {
    const res = await fetch(`${h.stack.authUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${bob.accessToken}`, cookie: bob.cookie } })
    t.ok(res.status < 300, `logout ${res.status}`)
    let r = { error: 0 } as { error?: number }
    for (let i = 0; i < 50 && r.error !== 401; i++) {
      r = await request('chat.message.create', { conversationId: conv.id, text: 'after logout', clientMessageId: `rv-${i}` }, acting(bob.userId, bob.sessionId))
      if (r.error !== 401) await new Promise((res) => setTimeout(res, 20))
    }
    t.equal(r.error, 401)
  })
})
