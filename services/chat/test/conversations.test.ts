import t from 'tap'
import { randomUUID } from 'node:crypto'
import { ChatMembershipChanged } from '@palisade/contracts'
import { chatHarness, collectEvents } from './helpers.js'

t.test('conversations and members', async (t) => {
  const h = await chatHarness(t, { CHAT_MAX_MEMBERS: 3 })
  const [alice, bob, carol, mallory] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const bobEvents = collectEvents(h.nc, bob.userId)
  const carolEvents = collectEvents(h.nc, carol.userId)
  // What services acting in front of the members (agents) hear: removals and deletions only.
  const membership: Array<Record<string, unknown>> = []
  h.nc.subscribe(ChatMembershipChanged.subject, { callback: (_err, msg) => membership.push(msg.json()) })

  const conv = await h.createConversation(alice, 'Project', [bob])
  t.equal(conv.ownerId, alice.userId)
  t.equal(conv.memberCount, 2)
  await bobEvents.waitFor((e) => e.type === 'conversation.created' && (e.conversation as { id: string }).id === conv.id)

  t.test('validation', async (t) => {
    let res = await h.as(alice, 'POST', '/api/chat/conversations', { title: 'x', extra: 1 })
    t.equal(res.statusCode, 400, 'unknown property refused')
    t.equal(res.json().code, 'VALIDATION_FAILED')
    res = await h.as(alice, 'POST', '/api/chat/conversations', { title: 'x'.repeat(201) })
    t.equal(res.statusCode, 400, 'title too long')
    res = await h.as(alice, 'POST', '/api/chat/conversations', { title: 'a\u0000b' })
    t.equal(res.statusCode, 400, 'control characters refused')
    res = await h.as(alice, 'POST', '/api/chat/conversations', { title: 'x', memberIds: [randomUUID()] })
    t.equal(res.statusCode, 404, 'unknown user: the whole create fails')
    res = await h.as(alice, 'GET', '/api/chat/conversations?cursor=bm9wZQ')
    t.equal(res.statusCode, 400, 'forged cursor refused')
    res = await h.as(alice, 'GET', '/api/chat/conversations?limit=101')
    t.equal(res.statusCode, 400, 'limit capped at 100')
    res = await h.as(alice, 'GET', '/api/chat/conversations/not-a-uuid')
    t.equal(res.statusCode, 400)
    res = await h.as(alice, 'POST', '/api/chat/conversations', { title: 'big', memberIds: [bob.userId, carol.userId, mallory.userId] })
    t.equal(res.statusCode, 409, 'member cap')
    t.equal(res.json().code, 'QUOTA_EXCEEDED')
  })

  t.test('a non-member gets 404 everywhere', async (t) => {
    const base = `/api/chat/conversations/${conv.id}`
    const msg = await h.send(alice, conv.id, 'secret')
    const calls: Array<[string, string, unknown?]> = [
      ['GET', base],
      ['PATCH', base, { title: 'pwned' }],
      ['DELETE', base],
      ['GET', `${base}/members`],
      ['POST', `${base}/members`, { userId: mallory.userId }],
      ['DELETE', `${base}/members/${bob.userId}`],
      ['DELETE', `${base}/members/${mallory.userId}`],
      ['GET', `${base}/messages`],
      ['POST', `${base}/messages`, { text: 'hi', clientMessageId: 'm1' }],
      ['PATCH', `${base}/messages/${msg.id}`, { text: 'edited' }],
      ['DELETE', `${base}/messages/${msg.id}`],
      ['POST', `${base}/read`, { messageId: msg.id }],
      ['GET', `/api/chat/search?q=secret&conversationId=${conv.id}`]
    ]
    for (const [method, url, body] of calls) {
      const res = await h.as(mallory, method, url, body)
      t.equal(res.statusCode, 404, `${method} ${url}`)
      t.equal(res.json().code, 'NOT_FOUND')
    }
    // ...and the same answer as for a conversation that does not exist
    const res = await h.as(mallory, 'GET', `/api/chat/conversations/${randomUUID()}`)
    t.equal(res.statusCode, 404)
    const after = await h.as(alice, 'GET', base)
    t.equal(after.json().title, 'Project', 'nothing changed')
  })

  t.test('owner-only operations', async (t) => {
    let res = await h.as(bob, 'PATCH', `/api/chat/conversations/${conv.id}`, { title: 'mine now' })
    t.equal(res.statusCode, 403, 'a member cannot rename')
    res = await h.as(bob, 'POST', `/api/chat/conversations/${conv.id}/members`, { userId: carol.userId })
    t.equal(res.statusCode, 403, 'a member cannot add')
    res = await h.as(bob, 'DELETE', `/api/chat/conversations/${conv.id}`)
    t.equal(res.statusCode, 403, 'a member cannot delete')
    res = await h.as(alice, 'DELETE', `/api/chat/conversations/${conv.id}/members/${alice.userId}`)
    t.equal(res.statusCode, 409, 'the owner cannot leave')
    t.equal(res.json().code, 'OWNER_MUST_TRANSFER')

    res = await h.as(alice, 'PATCH', `/api/chat/conversations/${conv.id}`, { title: 'Renamed' })
    t.equal(res.statusCode, 200)
    t.equal(res.json().title, 'Renamed')
    await bobEvents.waitFor((e) => e.type === 'conversation.updated' && (e.conversation as { title: string }).title === 'Renamed')
  })

  t.test('add, list, remove, leave', async (t) => {
    let res = await h.as(alice, 'POST', `/api/chat/conversations/${conv.id}/members`, { userId: randomUUID() })
    t.equal(res.statusCode, 404, 'a user auth does not know cannot be added')
    res = await h.as(alice, 'POST', `/api/chat/conversations/${conv.id}/members`, { userId: carol.userId })
    t.equal(res.statusCode, 201)
    t.match(res.json(), { userId: carol.userId, role: 'member' })
    const added = await carolEvents.waitFor((e) => e.type === 'member.added')
    t.equal((added.conversation as { id: string }).id, conv.id, 'the new member learns about the conversation')
    await bobEvents.waitFor((e) => e.type === 'member.added' && e.userId === carol.userId)
    res = await h.as(alice, 'POST', `/api/chat/conversations/${conv.id}/members`, { userId: carol.userId })
    t.equal(res.statusCode, 200, 'adding again is idempotent')
    res = await h.as(alice, 'POST', `/api/chat/conversations/${conv.id}/members`, { userId: mallory.userId })
    t.equal(res.statusCode, 409, 'member cap')

    res = await h.as(carol, 'GET', `/api/chat/conversations/${conv.id}/members?limit=2`)
    t.equal(res.statusCode, 200)
    const page1 = res.json()
    t.equal(page1.items.length, 2)
    t.type(page1.nextCursor, 'string')
    res = await h.as(carol, 'GET', `/api/chat/conversations/${conv.id}/members?limit=2&cursor=${page1.nextCursor}`)
    const page2 = res.json()
    t.equal(page2.items.length, 1)
    t.equal(page2.nextCursor, null)
    t.same(new Set([...page1.items, ...page2.items].map((m: { userId: string }) => m.userId)), new Set([alice.userId, bob.userId, carol.userId]))

    res = await h.as(bob, 'DELETE', `/api/chat/conversations/${conv.id}/members/${carol.userId}`)
    t.equal(res.statusCode, 403, 'a member cannot remove another')
    res = await h.as(alice, 'DELETE', `/api/chat/conversations/${conv.id}/members/${carol.userId}`)
    t.equal(res.statusCode, 204)
    await carolEvents.waitFor((e) => e.type === 'member.removed' && e.userId === carol.userId)
    t.equal(membership.length, 2, 'the addition and the removal are announced to services (once each, not the idempotent re-add)')
    t.match(membership[0], { type: 'member.added', conversationId: conv.id, userId: carol.userId }, 'the addition (agents re-check what runs read)')
    t.match(membership[1], { type: 'member.removed', conversationId: conv.id, userId: carol.userId }, 'the removal')
    res = await h.as(carol, 'GET', `/api/chat/conversations/${conv.id}`)
    t.equal(res.statusCode, 404, 'a removed member no longer sees it')
    res = await h.as(alice, 'DELETE', `/api/chat/conversations/${conv.id}/members/${carol.userId}`)
    t.equal(res.statusCode, 404, 'removing a non-member')

    const other = await h.createConversation(alice, 'Other', [carol])
    res = await h.as(carol, 'DELETE', `/api/chat/conversations/${other.id}/members/${carol.userId}`)
    t.equal(res.statusCode, 204, 'a member leaves')
    res = await h.as(carol, 'GET', `/api/chat/conversations/${other.id}`)
    t.equal(res.statusCode, 404)
    res = await h.as(alice, 'GET', `/api/chat/conversations/${other.id}`)
    t.equal(res.json().memberCount, 1)
  })

  t.test('my conversations, newest activity first, paged', async (t) => {
    const dave = await h.stack.createUser()
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await h.createConversation(dave, `c${i}`)).id)
    await h.send(dave, ids[1]!, 'bump')
    const expected = [ids[1], ids[4], ids[3], ids[2], ids[0]]
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res = await h.as(dave, 'GET', `/api/chat/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      t.equal(res.statusCode, 200)
      const page = res.json()
      seen.push(...page.items.map((c: { id: string }) => c.id))
      cursor = page.nextCursor
    } while (cursor)
    t.same(seen, expected)
    const other = await h.as(bob, 'GET', '/api/chat/conversations')
    t.notOk(
      other.json().items.some((c: { id: string }) => ids.includes(c.id)),
      "others' conversations are not listed"
    )
  })

  t.test('delete', async (t) => {
    const res = await h.as(alice, 'DELETE', `/api/chat/conversations/${conv.id}`)
    t.equal(res.statusCode, 204)
    await bobEvents.waitFor((e) => e.type === 'conversation.deleted' && e.conversationId === conv.id)
    t.match(membership.at(-1), { type: 'conversation.deleted', conversationId: conv.id }, 'the deletion is announced to services')
    t.equal((await h.as(alice, 'GET', `/api/chat/conversations/${conv.id}`)).statusCode, 404)
    t.equal((await h.as(bob, 'GET', `/api/chat/conversations/${conv.id}/messages`)).statusCode, 404)
  })
})
