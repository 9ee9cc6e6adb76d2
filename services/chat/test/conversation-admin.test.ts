import t from 'tap'
import { randomUUID } from 'node:crypto'
import {
  ChatConversationLeave,
  ChatConversationTransfer,
  ChatConversationUpdate,
  ChatMembershipChanged,
  ChatMessageCreate,
  ChatNotifySet
} from '@palisade/contracts'
import { acting, chatHarness, collectEvents } from './helpers.js'

t.test('managing a conversation: topic, archive, transfer, leave, notifications', async (t) => {
  const h = await chatHarness(t)
  const [alice, bob, carol, mallory] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const bobEvents = collectEvents(h.nc, bob.userId)
  const aliceEvents = collectEvents(h.nc, alice.userId)
  const membership: Array<Record<string, unknown>> = []
  h.nc.subscribe(ChatMembershipChanged.subject, { callback: (_err, msg) => membership.push(msg.json()) })
  const conv = await h.createConversation(alice, 'Room', [bob, carol])
  const base = `/api/chat/conversations/${conv.id}`
  t.equal(conv.topic, '', 'no topic at first')
  t.equal(conv.archivedAt, null)

  t.test('rename and topic: owner only, validated, every member hears it', async (t) => {
    let res = await h.as(alice, 'PATCH', base, { topic: 'Planning the launch' })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { title: 'Room', topic: 'Planning the launch' })
    await bobEvents.waitFor((e) => e.type === 'conversation.updated' && (e.conversation as { topic: string }).topic === 'Planning the launch')
    res = await h.as(alice, 'PATCH', base, { title: 'Launch', topic: '' })
    t.match(res.json(), { title: 'Launch', topic: '' }, 'both at once; an empty topic clears it')
    res = await h.as(alice, 'PATCH', base, {})
    t.equal(res.statusCode, 400, 'an empty change is refused')
    res = await h.as(alice, 'PATCH', base, { topic: 'x'.repeat(501) })
    t.equal(res.statusCode, 400, 'topic length capped')
    res = await h.as(alice, 'PATCH', base, { topic: 'line\nbreak' })
    t.equal(res.statusCode, 400, 'the topic is one line')
    res = await h.as(alice, 'PATCH', base, { topic: 'x', ownerId: mallory.userId })
    t.equal(res.statusCode, 400, 'unknown properties refused (no owner change through PATCH)')
    res = await h.as(bob, 'PATCH', base, { topic: 'bob was here' })
    t.equal(res.statusCode, 403, 'a member cannot set the topic')
    res = await h.as(mallory, 'PATCH', base, { title: 'pwned' })
    t.equal(res.statusCode, 404, 'a stranger cannot even see it')
    const after = await h.as(bob, 'GET', base)
    t.match(after.json(), { title: 'Launch', topic: '' }, 'refused changes left nothing behind')
  })

  t.test('archive: read-only for everyone, listed apart, restored by the owner', async (t) => {
    const msg = await h.send(bob, conv.id, 'before archiving')
    let res = await h.as(bob, 'PUT', `${base}/archive`)
    t.equal(res.statusCode, 403, 'a member cannot archive')
    res = await h.as(mallory, 'PUT', `${base}/archive`)
    t.equal(res.statusCode, 404, 'a stranger cannot archive')
    res = await h.as(alice, 'PUT', `${base}/archive`)
    t.equal(res.statusCode, 200)
    t.type(res.json().archivedAt, 'string')
    await bobEvents.waitFor((e) => e.type === 'conversation.updated' && (e.conversation as { archivedAt: string | null }).archivedAt !== null)

    for (const [who, method, url, body] of [
      [bob, 'POST', `${base}/messages`, { text: 'still here?', clientMessageId: 'arch-1' }],
      [alice, 'POST', `${base}/messages`, { text: 'owner too', clientMessageId: 'arch-2' }],
      [bob, 'PATCH', `${base}/messages/${msg.id}`, { text: 'edited' }],
      [bob, 'DELETE', `${base}/messages/${msg.id}`],
      [alice, 'PATCH', base, { title: 'renamed while archived' }]
    ] as const) {
      res = await h.as(who, method, url, body)
      t.equal(res.statusCode, 409, `${method} ${url} refused`)
      t.equal(res.json().code, 'CONVERSATION_ARCHIVED')
    }
    const viaNats = await h.nc.request(ChatConversationUpdate.subject, JSON.stringify({ conversationId: conv.id, title: 'x' }), {
      headers: acting(alice.userId)
    })
    t.equal(viaNats.headers?.get('Nats-Service-Error-Code'), '409', 'NATS refuses the same way')
    const socketSend = await h.nc.request(
      ChatMessageCreate.subject,
      JSON.stringify({ conversationId: conv.id, text: 'via the gateway', clientMessageId: 'arch-3' }),
      {
        headers: acting(bob.userId)
      }
    )
    t.equal(socketSend.headers?.get('Nats-Service-Error-Code'), '409', "and so does the gateway's message.send")
    res = await h.as(bob, 'GET', `${base}/messages`)
    t.equal(res.statusCode, 200, 'still readable')
    t.equal(res.json().items[0].text, 'before archiving', 'nothing was written')

    res = await h.as(bob, 'GET', '/api/chat/conversations')
    t.notOk(
      res.json().items.some((c: { id: string }) => c.id === conv.id),
      'hidden from the main list'
    )
    res = await h.as(bob, 'GET', '/api/chat/conversations?archived=true')
    t.same(
      res.json().items.map((c: { id: string }) => c.id),
      [conv.id],
      'listed under archived'
    )
    res = await h.as(mallory, 'GET', '/api/chat/conversations?archived=true')
    t.same(res.json().items, [], "a stranger's archived list does not show it")

    res = await h.as(bob, 'DELETE', `${base}/archive`)
    t.equal(res.statusCode, 403, 'a member cannot restore')
    res = await h.as(alice, 'DELETE', `${base}/archive`)
    t.equal(res.statusCode, 200)
    t.equal(res.json().archivedAt, null)
    await h.send(bob, conv.id, 'back again')
  })

  t.test('transfer ownership to a current member only', async (t) => {
    let res = await h.as(bob, 'POST', `${base}/transfer`, { userId: bob.userId })
    t.equal(res.statusCode, 403, 'a member cannot take ownership')
    res = await h.as(mallory, 'POST', `${base}/transfer`, { userId: mallory.userId })
    t.equal(res.statusCode, 404, 'a stranger cannot either')
    res = await h.as(alice, 'POST', `${base}/transfer`, { userId: mallory.userId })
    t.equal(res.statusCode, 404, 'not to a non-member')
    res = await h.as(alice, 'POST', `${base}/transfer`, { userId: randomUUID() })
    t.equal(res.statusCode, 404, 'not to an unknown user')
    res = await h.as(alice, 'POST', `${base}/transfer`, { userId: alice.userId })
    t.equal(res.statusCode, 409, 'not to oneself')
    res = await h.as(alice, 'POST', `${base}/transfer`, { userId: 'nope' })
    t.equal(res.statusCode, 400)
    res = await h.as(alice, 'POST', `${base}/transfer`, { userId: bob.userId })
    t.equal(res.statusCode, 200)
    t.equal(res.json().ownerId, bob.userId)
    await aliceEvents.waitFor((e) => e.type === 'conversation.updated' && (e.conversation as { ownerId: string }).ownerId === bob.userId)
    const members = (await h.as(carol, 'GET', `${base}/members`)).json().items as Array<{ userId: string; role: string }>
    t.same(
      members.filter((m) => m.role === 'owner').map((m) => m.userId),
      [bob.userId],
      'exactly one owner'
    )
    res = await h.as(alice, 'PATCH', base, { topic: 'old owner' })
    t.equal(res.statusCode, 403, 'the previous owner lost the rights')
    const back = await h.nc.request(ChatConversationTransfer.subject, JSON.stringify({ conversationId: conv.id, userId: alice.userId }), {
      headers: acting(bob.userId)
    })
    t.equal(back.json<{ ownerId: string }>().ownerId, alice.userId, 'over NATS as the acting owner')
  })

  t.test('leave: members go; the owner transfers first; the last member deletes', async (t) => {
    let res = await h.as(alice, 'POST', `${base}/leave`)
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'OWNER_MUST_TRANSFER')
    res = await h.as(mallory, 'POST', `${base}/leave`)
    t.equal(res.statusCode, 404, 'a stranger cannot leave what they are not in')
    res = await h.as(carol, 'POST', `${base}/leave`)
    t.same(res.json(), { deleted: false })
    await bobEvents.waitFor((e) => e.type === 'member.removed' && e.userId === carol.userId)
    t.equal((await h.as(carol, 'GET', base)).statusCode, 404)

    const solo = await h.createConversation(carol, 'Solo')
    await h.send(carol, solo.id, 'talking to myself')
    const left = await h.nc.request(ChatConversationLeave.subject, JSON.stringify({ conversationId: solo.id }), { headers: acting(carol.userId) })
    t.same(left.json(), { deleted: true }, 'the last member leaving deletes it')
    await t.resolves(
      (async () => {
        while (!membership.some((e) => e.type === 'conversation.deleted' && e.conversationId === solo.id)) await new Promise((r) => setTimeout(r, 20))
      })(),
      'announced as deleted (the files service deletes its files)'
    )
    const rows = await h.app.pg.query('SELECT count(*)::int AS n FROM chat.messages WHERE conversation_id = $1', [solo.id])
    t.equal(rows.rows[0].n, 0, 'its messages are gone')
  })

  t.test('notification level: per member, own only', async (t) => {
    let res = await h.as(bob, 'PUT', `${base}/notifications`, { notifyLevel: 'mentions' })
    t.equal(res.statusCode, 200)
    res = await h.as(bob, 'GET', base)
    t.equal(res.json().notifyLevel, 'mentions')
    res = await h.as(alice, 'GET', base)
    t.equal(res.json().notifyLevel, 'all', "another member's level is theirs alone")
    res = await h.as(bob, 'PUT', `${base}/notifications`, { notifyLevel: 'loud' })
    t.equal(res.statusCode, 400)
    res = await h.as(mallory, 'PUT', `${base}/notifications`, { notifyLevel: 'none' })
    t.equal(res.statusCode, 404, 'a stranger gets nothing')
    const r = await h.nc.request(ChatNotifySet.subject, JSON.stringify({ conversationId: conv.id, notifyLevel: 'none' }), { headers: acting(bob.userId) })
    t.same(r.json(), {})
    await bobEvents.waitFor((e) => e.type === 'conversation.notify' && e.notifyLevel === 'none')
    const list = (await h.as(bob, 'GET', '/api/chat/conversations')).json().items as Array<{ id: string; notifyLevel: string }>
    t.equal(list.find((c) => c.id === conv.id)?.notifyLevel, 'none', 'the list carries it')
  })

  t.test('delete: owner only, gone for everyone at once', async (t) => {
    let res = await h.as(bob, 'DELETE', base)
    t.equal(res.statusCode, 403)
    res = await h.as(alice, 'DELETE', base)
    t.equal(res.statusCode, 204)
    await bobEvents.waitFor((e) => e.type === 'conversation.deleted' && e.conversationId === conv.id)
    for (const who of [alice, bob]) t.equal((await h.as(who, 'GET', `${base}/messages`)).statusCode, 404)
  })
})
