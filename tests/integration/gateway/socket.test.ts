import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Compile } from 'typebox/compile'
import { IDENTITY_HEADERS, ServerFrameSchema } from '@palisade/contracts'
import { Client, gatewayHarness, sleep } from './helpers.js'

t.test('handshake and frames', async (t) => {
  const h = await gatewayHarness(t)
  const [alice, bob, mallory] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Realtime', [bob])
  const serverFrame = Compile(ServerFrameSchema)

  t.test('identity is checked at the handshake', async (t) => {
    const good = await h.wsHeaders(alice)
    t.equal(await h.refused({}), 401, 'no identity')
    t.equal(await h.refused({ [IDENTITY_HEADERS.user]: alice.userId, [IDENTITY_HEADERS.session]: alice.sessionId }), 401, 'no assertion')
    t.equal(await h.refused({ ...good, [IDENTITY_HEADERS.user]: bob.userId }), 401, "alice's assertion with bob's user header")
    const forChat = await h.stack.identityHeaders(alice, { method: 'GET', uri: '/api/chat/conversations' })
    t.equal(await h.refused(forChat), 401, 'an assertion for another service')
    const parts = good[IDENTITY_HEADERS.assertion]!.split('.')
    const tampered = [
      parts[0],
      Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(parts[1]!, 'base64url').toString()), sub: bob.userId })).toString('base64url'),
      parts[2]
    ].join('.')
    t.equal(await h.refused({ ...good, [IDENTITY_HEADERS.user]: bob.userId, [IDENTITY_HEADERS.assertion]: tampered }), 401, 'a tampered assertion')
    t.equal(await h.refused({ ...good, origin: 'https://evil.example' }), 403, 'a foreign Origin (cross-site WebSocket hijacking)')
    const ok = await h.connect(alice, { headers: { ...good, origin: 'http://localhost:8080' } })
    const hello = ok.frames[0]!
    t.match(hello, { type: 'hello', userId: alice.userId, sessionId: alice.sessionId, heartbeatMs: 30_000 })
    t.ok(serverFrame.Check(hello), 'hello matches the contract')
    ok.close()
  })

  t.test('in-process (injectWS): the frame protocol without a network', async (t) => {
    // A user with no socket yet: injectWS drops bytes that arrive with the 101 response, and hello
    // then waits for the new subscription's round trip to NATS, so it arrives on its own.
    const dave = await h.stack.createUser()
    const ws = await h.gw.injectWS('/ws', { headers: await h.wsHeaders(dave) })
    const c = new Client(ws)
    t.match(await c.type('hello'), { userId: dave.userId })
    c.send('{"type":"ping","id":"u1"')
    t.match(await c.type('error'), { code: 'MALFORMED_BODY', ref: null })
    c.send({ type: 'ping', id: 'u2' })
    t.same(await c.type('pong'), { type: 'pong', ref: 'u2' })
    ws.terminate()
    await t.rejects(h.gw.injectWS('/ws', { headers: {} }), /401/, 'no identity: refused before the upgrade')
  })

  t.test('A sends, B receives; invalid frames get an error and the socket stays open', async (t) => {
    const a = await h.connect(alice)
    const b = await h.connect(bob)

    a.send({ type: 'ping', id: 'p1' })
    t.same(await a.type('pong'), { type: 'pong', ref: 'p1' })

    const bad: Array<[unknown, string, string | null]> = [
      ['{not json', 'MALFORMED_BODY', null],
      ['[]', 'VALIDATION_FAILED', null],
      ['"text"', 'VALIDATION_FAILED', null],
      [{ type: 'nope', id: 'x1' }, 'VALIDATION_FAILED', 'x1'],
      [{ type: 'message.send', id: 'x2', conversationId: conv.id, text: 'hi' }, 'VALIDATION_FAILED', 'x2'],
      [{ type: 'message.send', id: 'x3', conversationId: conv.id, text: 'hi', clientMessageId: 'c', senderId: bob.userId }, 'VALIDATION_FAILED', 'x3'],
      [{ type: 'message.send', id: 'x4', conversationId: 'not-a-uuid', text: 'hi', clientMessageId: 'c' }, 'VALIDATION_FAILED', 'x4'],
      [{ type: 'message.send', id: 'x5', conversationId: conv.id, text: 'x'.repeat(8001), clientMessageId: 'c' }, 'VALIDATION_FAILED', 'x5'],
      [{ type: 'typing', id: 'bad id with spaces', conversationId: conv.id, extra: 1 }, 'VALIDATION_FAILED', null]
    ]
    for (const [frame, code, ref] of bad) {
      const before = a.frames.length
      a.send(frame)
      const err = await a.waitFor((f, i = a.frames.indexOf(f)) => f.type === 'error' && i >= before)
      t.match(err, { type: 'error', code, ref }, JSON.stringify(frame).slice(0, 50))
      t.ok(serverFrame.Check(err), 'error frame matches the contract')
    }
    a.ws.send(Buffer.from([1, 2, 3]), { binary: true })
    t.match(await a.waitFor((f) => f.code === 'UNSUPPORTED_MEDIA_TYPE'), { type: 'error' }, 'binary frames refused')
    a.send({ type: 'ping', id: 'p2' })
    await a.waitFor((f) => f.type === 'pong' && f.ref === 'p2')
    t.pass('the socket is still open after invalid frames')

    a.send({ type: 'message.send', id: 's1', conversationId: conv.id, text: 'hello over ws', clientMessageId: 'ws-1' })
    const ack = await a.waitFor((f) => f.type === 'ack' && f.ref === 's1')
    t.match(ack, { created: true, message: { text: 'hello over ws', senderId: alice.userId } })
    t.ok(serverFrame.Check(ack))
    const received = await b.waitFor((f) => f.type === 'message.created')
    t.match(received, { conversationId: conv.id, message: { id: (ack.message as { id: string }).id, text: 'hello over ws' } })
    t.ok(serverFrame.Check(received), 'relayed event matches the contract')
    await a.waitFor((f) => f.type === 'message.created', 1000)

    // B also sees it over HTTP
    const headers = await h.stack.identityHeaders(bob, { uri: `/api/chat/conversations/${conv.id}/messages` })
    const list = await h.chat.inject({ url: `/api/chat/conversations/${conv.id}/messages`, headers })
    t.equal(list.json().items[0].text, 'hello over ws')

    a.send({ type: 'message.send', id: 's2', conversationId: conv.id, text: 'hello over ws', clientMessageId: 'ws-1' })
    const retry = await a.waitFor((f) => f.type === 'ack' && f.ref === 's2')
    t.match(retry, { created: false, message: { id: (ack.message as { id: string }).id } }, 'an idempotent retry')
    await sleep(100)
    t.equal(b.frames.filter((f) => f.type === 'message.created').length, 1, 'no second event for the retry')
    a.close()
    b.close()
  })

  t.test('events that do not match the contract are not relayed', async (t) => {
    const b = await h.connect(bob)
    const subject = `events.user.${bob.userId}`
    h.nc.publish(subject, JSON.stringify({ type: 'message.created', at: new Date().toISOString(), conversationId: conv.id, message: { text: 'no' } }))
    h.nc.publish(subject, JSON.stringify({ type: 'script', code: 'alert(1)' }))
    h.nc.publish(subject, new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))
    h.nc.publish(subject, 'not json')
    const ok = { type: 'typing', at: new Date().toISOString(), conversationId: conv.id, userId: alice.userId }
    h.nc.publish(subject, JSON.stringify(ok))
    t.same(await b.type('typing'), ok, 'a valid one after them arrives')
    t.same(
      b.frames.map((f) => f.type),
      ['hello', 'typing'],
      'nothing else was relayed'
    )
    b.close()
  })

  t.test('a non-member gets an error frame', async (t) => {
    const m = await h.connect(mallory)
    m.send({ type: 'message.send', id: 'm1', conversationId: conv.id, text: 'let me in', clientMessageId: 'm-1' })
    t.match(await m.waitFor((f) => f.ref === 'm1'), { type: 'error', code: 'NOT_FOUND' })
    m.send({ type: 'typing', id: 'm2', conversationId: conv.id })
    t.match(await m.waitFor((f) => f.ref === 'm2'), { type: 'error', code: 'NOT_FOUND' })
    m.send({ type: 'message.send', id: 'm3', conversationId: randomUUID(), text: 'x', clientMessageId: 'm-3' })
    t.match(await m.waitFor((f) => f.ref === 'm3'), { type: 'error', code: 'NOT_FOUND' }, 'same as a conversation that does not exist')
    m.send({ type: 'ping', id: 'm4' })
    await m.waitFor((f) => f.ref === 'm4')
    m.close()
  })

  t.test('typing reaches the other members, is not stored, and is coalesced', async (t) => {
    const a = await h.connect(alice)
    const b = await h.connect(bob)
    const before = await h.chat.pg.query('SELECT count(*)::int AS n FROM chat.messages')
    a.send({ type: 'typing', conversationId: conv.id })
    const typing = await b.type('typing')
    t.match(typing, { conversationId: conv.id, userId: alice.userId })
    t.ok(serverFrame.Check(typing))
    a.send({ type: 'typing', conversationId: conv.id })
    a.send({ type: 'typing', conversationId: conv.id })
    await sleep(200)
    t.equal(b.frames.filter((f) => f.type === 'typing').length, 1, 'repeats within the interval are coalesced')
    t.notOk(
      a.frames.some((f) => f.type === 'typing'),
      'the typist does not get their own typing'
    )
    const after = await h.chat.pg.query('SELECT count(*)::int AS n FROM chat.messages')
    t.equal(after.rows[0].n, before.rows[0].n, 'nothing stored')
    a.close()
    b.close()
  })

  t.test('membership events reach the socket; a removed member stops getting messages', async (t) => {
    const carol = await h.stack.createUser()
    const c = await h.connect(carol)
    const a = await h.connect(alice)
    const addHeaders = await h.stack.identityHeaders(alice, { method: 'POST', uri: `/api/chat/conversations/${conv.id}/members` })
    await h.chat.inject({ method: 'POST', url: `/api/chat/conversations/${conv.id}/members`, headers: addHeaders, payload: { userId: carol.userId } })
    t.match(await c.type('member.added'), { conversationId: conv.id, userId: carol.userId })
    c.send({ type: 'typing', id: 't1', conversationId: conv.id })
    await a.waitFor((f) => f.type === 'typing' && f.userId === carol.userId)
    const delHeaders = await h.stack.identityHeaders(alice, { method: 'DELETE', uri: `/api/chat/conversations/${conv.id}/members/${carol.userId}` })
    await h.chat.inject({ method: 'DELETE', url: `/api/chat/conversations/${conv.id}/members/${carol.userId}`, headers: delHeaders })
    t.match(await c.type('member.removed'), { userId: carol.userId })
    await sleep(2100) // past the typing interval
    c.send({ type: 'typing', id: 't2', conversationId: conv.id })
    t.match(await c.waitFor((f) => f.ref === 't2'), { type: 'error', code: 'NOT_FOUND' }, 'the member cache does not outlive the removal')
    a.send({ type: 'message.send', conversationId: conv.id, text: 'after removal', clientMessageId: 'ar-1' })
    await a.waitFor((f) => f.type === 'message.created' && (f.message as { text: string }).text === 'after removal')
    await sleep(100)
    t.notOk(c.frames.some((f) => f.type === 'message.created' && (f.message as { text: string }).text === 'after removal'))
    a.close()
    c.close()
  })

  t.test('agent run frames published after a removal do not reach the removed member', async (t) => {
    // Frames of an agent run come from another NATS client than chat's removal, so one published
    // just before the agents service heard of the removal can arrive after it.
    const dave = await h.stack.createUser()
    const d = await h.connect(dave)
    const subject = `events.user.${dave.userId}`
    const left = randomUUID()
    const deleted = randomUUID()
    const other = randomUUID()
    const at = () => new Date().toISOString()
    const delta = (conversationId: string, text: string) =>
      JSON.stringify({ type: 'agent.run.delta', at: at(), runId: randomUUID(), agentId: randomUUID(), agentName: 'Helper', conversationId, seq: 0, text })
    const end = (conversationId: string) =>
      JSON.stringify({ type: 'agent.run.cancelled', at: at(), runId: randomUUID(), agentId: randomUUID(), agentName: 'Helper', conversationId })
    h.nc.publish(subject, delta(left, 'before'))
    h.nc.publish(subject, JSON.stringify({ type: 'member.removed', at: at(), conversationId: left, userId: dave.userId }))
    h.nc.publish(subject, delta(left, 'secret after removal'))
    h.nc.publish(subject, end(left))
    h.nc.publish(subject, JSON.stringify({ type: 'member.removed', at: at(), conversationId: other, userId: randomUUID() }))
    h.nc.publish(subject, delta(deleted, 'before'))
    h.nc.publish(subject, JSON.stringify({ type: 'conversation.deleted', at: at(), conversationId: deleted }))
    h.nc.publish(subject, delta(deleted, 'secret after deletion'))
    h.nc.publish(subject, delta(other, 'still a member here'))
    h.nc.publish(subject, JSON.stringify({ type: 'typing', at: at(), conversationId: other, userId: alice.userId }))
    await d.type('typing')
    const texts = d.frames.filter((f) => f.type === 'agent.run.delta').map((f) => f.text)
    t.same(texts, ['before', 'before', 'still a member here'], 'nothing of a run after the removal or deletion')
    t.notOk(d.frames.some((f) => f.type === 'agent.run.cancelled'))
    t.same(d.frames.filter((f) => f.type === 'member.removed' || f.type === 'conversation.deleted').length, 3, 'the membership events themselves arrive')

    // Added again: a new run's frames reach them.
    const addHeaders = await h.stack.identityHeaders(alice, { method: 'POST', uri: `/api/chat/conversations/${conv.id}/members` })
    await h.chat.inject({ method: 'POST', url: `/api/chat/conversations/${conv.id}/members`, headers: addHeaders, payload: { userId: dave.userId } })
    const added = await d.type('member.added')
    h.nc.publish(subject, JSON.stringify({ ...added, conversationId: left, conversation: { ...(added.conversation as object), id: left } }))
    h.nc.publish(subject, delta(left, 'after re-adding'))
    await d.waitFor((f) => f.type === 'agent.run.delta' && f.text === 'after re-adding')
    d.close()
  })

  t.test("a read marker reaches the reader's sockets in every session, nobody else's", async (t) => {
    // alice signed in a second time (another browser): a session of its own
    const login = await fetch(`${h.stack.authUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: alice.email, password: alice.password })
    })
    const second = (await login.json()) as { accessToken: string; sessionId: string }
    t.not(second.sessionId, alice.sessionId)
    const a1 = await h.connect(alice)
    const a2 = await h.connect({ ...alice, accessToken: second.accessToken, sessionId: second.sessionId })
    const b = await h.connect(bob)
    b.send({ type: 'message.send', id: 'r1', conversationId: conv.id, text: 'read me', clientMessageId: 'read-1' })
    const ack = await b.waitFor((f) => f.type === 'ack' && f.ref === 'r1')
    const messageId = (ack.message as { id: string }).id
    await a2.waitFor((f) => f.type === 'message.created' && (f.message as { id: string }).id === messageId)

    const url = `/api/chat/conversations/${conv.id}/read`
    const headers = await h.stack.identityHeaders(alice, { method: 'POST', uri: url })
    const res = await h.chat.inject({ method: 'POST', url, headers, payload: { messageId } })
    t.equal(res.statusCode, 204)
    for (const c of [a1, a2]) {
      const f = await c.type('conversation.read')
      t.same(f, { type: 'conversation.read', at: f.at, conversationId: conv.id, messageId, unreadCount: 0 })
      t.ok(serverFrame.Check(f), 'the frame matches the contract')
    }
    await sleep(100)
    t.notOk(
      b.frames.some((f) => f.type === 'conversation.read'),
      "bob does not hear about alice's reading"
    )
    a1.close()
    a2.close()
    b.close()
  })
})
