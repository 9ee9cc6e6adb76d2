import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Compile } from 'typebox/compile'
import { MENTION_LIMITS, MessageSchema, REACTION_LIMITS, type Message, type ThreadPage } from '@palisade/contracts'
import { acting, chatHarness, collectEvents } from './helpers.js'

/**
 * Issue 26 items 2–4 through chat's HTTP routes and NATS subjects: mentions, replies and threads,
 * reactions — and every foreign id an attacker could try (another conversation's message, a
 * conversation they are not in, a non-member to mention).
 */

const checkMessage = Compile(MessageSchema)
const h = await chatHarness(t)
const [alice, bob, carol, mallory] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
const conv = await h.createConversation(alice, 'Team', [bob, carol])
const other = await h.createConversation(mallory, 'Elsewhere', [])
const url = (c: string) => `/api/chat/conversations/${c}/messages`
let n = 0
const post = (user: typeof alice, c: string, body: Record<string, unknown>) => h.as(user, 'POST', url(c), { clientMessageId: `m${++n}`, ...body })

t.test('mentions: members by id, checked, counted until the read marker passes them', async (t) => {
  const bobEvents = collectEvents(h.nc, bob.userId)
  const res = await post(alice, conv.id, { text: 'hi @bob', mentions: [bob.userId] })
  t.equal(res.statusCode, 201, res.body)
  const msg = res.json<Message>()
  t.ok(checkMessage.Check(msg), 'the message validates')
  t.same(msg.mentions, [bob.userId])
  t.equal(msg.massMention, null)
  const ev = await bobEvents.waitFor((e) => e.type === 'mention.created')
  t.same(ev, { type: 'mention.created', at: ev.at, conversationId: conv.id, messageId: msg.id, senderId: alice.userId, mass: false })

  const counts = await h.as(bob, 'GET', '/api/chat/mentions')
  t.same(counts.json(), { items: [{ conversationId: conv.id, count: 1 }] })
  t.same((await h.as(carol, 'GET', '/api/chat/mentions')).json(), { items: [] }, 'only the mentioned user counts it')
  t.same((await h.as(alice, 'GET', '/api/chat/mentions')).json(), { items: [] }, 'nor does the sender')

  t.equal((await h.as(bob, 'POST', `/api/chat/conversations/${conv.id}/read`, { messageId: msg.id })).statusCode, 204)
  t.same((await h.as(bob, 'GET', '/api/chat/mentions')).json(), { items: [] }, 'the read marker resets the count')

  const nats = await h.nc.request('chat.mentions.counts', '{}', { timeout: 3000, headers: acting(bob.userId) })
  t.same(nats.json(), { items: [] }, 'NATS answers as the acting user')

  // The count is an index range per conversation (whatever the planner prefers on a tiny table).
  const c = await h.app.pg.connect()
  try {
    await c.query('BEGIN')
    await c.query('SET LOCAL enable_seqscan = off')
    const plan = await c.query(`EXPLAIN SELECT count(*) FROM chat.message_mentions mm WHERE mm.user_id = $1 AND mm.conversation_id = $2 AND mm.seq > $3`, [
      bob.userId,
      conv.id,
      0
    ])
    t.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /Index Only Scan using message_mentions_user_idx/, 'unread mentions: an index-only range')
  } finally {
    await c.query('ROLLBACK')
    c.release()
  }
})

t.test('mentions: non-members, foreign and too many ids are refused, nothing written', async (t) => {
  const outsider = await post(alice, conv.id, { text: 'hey', mentions: [mallory.userId] })
  t.equal(outsider.statusCode, 400)
  t.equal(outsider.json().code, 'MENTION_NOT_MEMBER')
  const unknown = await post(alice, conv.id, { text: 'hey', mentions: [randomUUID()] })
  t.equal(unknown.json().code, 'MENTION_NOT_MEMBER', 'an unknown id answers the same')
  const many = await post(alice, conv.id, { text: 'hey', mentions: Array.from({ length: MENTION_LIMITS.perMessageMax + 1 }, () => randomUUID()) })
  t.equal(many.statusCode, 400)
  t.equal(many.json().code, 'VALIDATION_FAILED')
  const dup = await post(alice, conv.id, { text: 'hey', mentions: [bob.userId, bob.userId] })
  t.equal(dup.statusCode, 400, 'duplicate ids')
  t.same((await h.as(mallory, 'GET', '/api/chat/mentions')).json(), { items: [] })
  const intoForeign = await post(mallory, conv.id, { text: 'x', mentions: [alice.userId] })
  t.equal(intoForeign.statusCode, 404, 'a non-member cannot post (or mention) in the conversation')
})

t.test('@here/@all only when the owner allows them; only the owner changes that', async (t) => {
  const policyUrl = `/api/chat/conversations/${conv.id}/mention-policy`
  t.same((await h.as(bob, 'GET', policyUrl)).json(), { allowMassMentions: false }, 'off by default')
  const refused = await post(bob, conv.id, { text: '@all look', massMention: 'all' })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'MASS_MENTIONS_DISABLED')
  t.equal((await h.as(bob, 'PUT', policyUrl, { allowMassMentions: true })).statusCode, 403, 'a member may not change it')
  t.equal((await h.as(mallory, 'PUT', policyUrl, { allowMassMentions: true })).statusCode, 404, 'an outsider does not see it')
  t.equal((await h.as(mallory, 'GET', policyUrl)).statusCode, 404)
  t.equal((await h.as(alice, 'PUT', policyUrl, { allowMassMentions: true, extra: 1 })).statusCode, 400, 'unknown keys refused')
  t.same((await h.as(alice, 'PUT', policyUrl, { allowMassMentions: true })).json(), { allowMassMentions: true })

  const carolEvents = collectEvents(h.nc, carol.userId)
  const ok = await post(bob, conv.id, { text: '@here standup', massMention: 'here' })
  t.equal(ok.statusCode, 201, ok.body)
  const ev = await carolEvents.waitFor((e) => e.type === 'mention.created' && e.messageId === ok.json().id)
  t.equal(ev.mass, true)
  const counts = await h.as(alice, 'GET', '/api/chat/mentions')
  t.same(counts.json(), { items: [{ conversationId: conv.id, count: 1 }] }, 'every member but the sender is mentioned')
  t.equal((await h.as(alice, 'PUT', policyUrl, { allowMassMentions: false })).statusCode, 200)
})

t.test('replies: one level, same conversation, summary, thread page, notifications', async (t) => {
  const parent = await h.send(alice, conv.id, 'Question?')
  const foreign = await h.send(mallory, other.id, 'not yours')
  const aliceEvents = collectEvents(h.nc, alice.userId)
  const carolEvents = collectEvents(h.nc, carol.userId)

  const r1 = await post(bob, conv.id, { text: 'answer 1', parentId: parent.id })
  t.equal(r1.statusCode, 201, r1.body)
  t.equal(r1.json().parentId, parent.id)
  const replied = await aliceEvents.waitFor((e) => e.type === 'thread.replied')
  t.same(replied, { type: 'thread.replied', at: replied.at, conversationId: conv.id, parentId: parent.id, messageId: r1.json().id, senderId: bob.userId })
  const updated = await aliceEvents.waitFor((e) => e.type === 'message.updated' && (e.message as Message).id === parent.id)
  t.same((updated.message as Message).thread?.replyCount, 1, 'members see the new count')

  const r2 = await post(carol, conv.id, { text: 'answer 2', parentId: parent.id })
  t.equal(r2.statusCode, 201)
  const r3 = await post(alice, conv.id, { text: 'thanks', parentId: parent.id })
  t.equal(r3.statusCode, 201)
  await carolEvents.waitFor((e) => e.type === 'thread.replied' && e.messageId === r3.json().id)
  t.notOk(
    carolEvents.events.some((e) => e.type === 'thread.replied' && e.messageId === r2.json().id),
    'nobody is told of their own reply'
  )

  const page = await h.as(carol, 'GET', `${url(conv.id)}/${parent.id}/replies`)
  t.equal(page.statusCode, 200, page.body)
  const thread = page.json<ThreadPage>()
  t.equal(thread.parent?.id, parent.id)
  t.same(
    thread.items.map((m) => m.text),
    ['answer 1', 'answer 2', 'thanks'],
    'oldest first'
  )
  t.same(thread.parent?.thread?.replyCount, 3)
  t.same(thread.parent?.thread?.repliers, [alice.userId, carol.userId, bob.userId], 'latest distinct repliers first')
  const paged = await h.as(carol, 'GET', `${url(conv.id)}/${parent.id}/replies?limit=2`)
  const next = paged.json<ThreadPage>().nextCursor
  t.ok(next)
  t.same(
    (await h.as(carol, 'GET', `${url(conv.id)}/${parent.id}/replies?limit=2&after=${next}`)).json<ThreadPage>().items.map((m) => m.text),
    ['thanks']
  )

  const nested = await post(bob, conv.id, { text: 'deeper', parentId: r1.json().id })
  t.equal(nested.statusCode, 400)
  t.equal(nested.json().code, 'REPLY_NESTED')
  const cross = await post(bob, conv.id, { text: 'sneaky', parentId: foreign.id })
  t.equal(cross.statusCode, 400)
  t.equal(cross.json().code, 'REPLY_PARENT_NOT_FOUND', "another conversation's message answers as a missing one")
  t.equal((await post(bob, conv.id, { text: 'x', parentId: randomUUID() })).json().code, 'REPLY_PARENT_NOT_FOUND')
  t.equal((await post(mallory, conv.id, { text: 'x', parentId: parent.id })).statusCode, 404, 'non-members cannot reply')
  t.equal((await h.as(mallory, 'GET', `${url(conv.id)}/${parent.id}/replies`)).statusCode, 404, 'nor read the thread')
  t.equal((await h.as(mallory, 'GET', `${url(other.id)}/${parent.id}/replies`)).statusCode, 404, 'not through their own conversation either')
  t.equal((await h.as(alice, 'GET', `${url(conv.id)}/${r1.json().id}/replies`)).statusCode, 404, 'a reply has no thread')

  const viaNats = await h.nc.request('chat.thread.get', JSON.stringify({ conversationId: conv.id, messageId: parent.id }), {
    timeout: 3000,
    headers: acting(bob.userId)
  })
  t.equal(viaNats.json<ThreadPage>().items.length, 3)
  const natsForeign = await h.nc.request('chat.thread.get', JSON.stringify({ conversationId: conv.id, messageId: parent.id }), {
    timeout: 3000,
    headers: acting(mallory.userId)
  })
  t.equal(natsForeign.headers?.get('Nats-Service-Error-Code'), '404')

  // A deleted reply: the parent's summary is rebuilt.
  t.equal((await h.as(alice, 'DELETE', `${url(conv.id)}/${r3.json().id}`)).statusCode, 204)
  const after = (await h.as(bob, 'GET', `${url(conv.id)}/${parent.id}/replies`)).json<ThreadPage>()
  t.same(after.parent?.thread, { replyCount: 2, repliers: [carol.userId, bob.userId], lastReplyAt: after.parent?.thread?.lastReplyAt })

  // A deleted parent: its replies stay, under a stub.
  t.equal((await h.as(alice, 'DELETE', `${url(conv.id)}/${parent.id}`)).statusCode, 204)
  const orphan = (await h.as(bob, 'GET', `${url(conv.id)}/${parent.id}/replies`)).json<ThreadPage>()
  t.equal(orphan.parent, null, 'the parent is gone')
  t.same(
    orphan.items.map((m) => m.text),
    ['answer 1', 'answer 2']
  )
  t.equal((await post(bob, conv.id, { text: 'late', parentId: parent.id })).json().code, 'REPLY_PARENT_NOT_FOUND', 'no new replies to a deleted parent')
})

t.test('reactions: one emoji, idempotent toggles, who reacted, the limit, foreign ids', async (t) => {
  const msg = await h.send(alice, conv.id, 'ship it')
  const foreign = await h.send(mallory, other.id, 'mine')
  const reactUrl = (c: string, m: string) => `${url(c)}/${m}/reactions`
  const carolEvents = collectEvents(h.nc, carol.userId)

  const on = await h.as(bob, 'PUT', reactUrl(conv.id, msg.id), { emoji: '👍🏽', reacted: true })
  t.equal(on.statusCode, 200)
  t.same(on.json<Message>().reactions, [{ emoji: '👍🏽', count: 1, userIds: [bob.userId] }])
  const seen = await carolEvents.waitFor((e) => e.type === 'message.updated' && (e.message as Message).id === msg.id)
  t.same((seen.message as Message).reactions, [{ emoji: '👍🏽', count: 1, userIds: [bob.userId] }], 'every member hears it')
  t.same((await h.as(bob, 'PUT', reactUrl(conv.id, msg.id), { emoji: '👍🏽', reacted: true })).json<Message>().reactions[0]?.count, 1, 'idempotent')
  await h.as(carol, 'PUT', reactUrl(conv.id, msg.id), { emoji: '👍🏽', reacted: true })
  const family = await h.as(carol, 'PUT', reactUrl(conv.id, msg.id), { emoji: '👨‍👩‍👧', reacted: true })
  t.same(
    family.json<Message>().reactions.map((r) => [r.emoji, r.count]),
    [
      ['👍🏽', 2],
      ['👨‍👩‍👧', 1]
    ],
    'a ZWJ sequence is one emoji'
  )
  const off = await h.as(bob, 'PUT', reactUrl(conv.id, msg.id), { emoji: '👍🏽', reacted: false })
  t.same(off.json<Message>().reactions[0], { emoji: '👍🏽', count: 1, userIds: [carol.userId] })
  t.same((await h.as(alice, 'GET', url(conv.id))).json<{ items: Message[] }>().items[0]?.reactions.length, 2, 'the page shows them too')

  for (const bad of ['a', '👍👍', ':)', '👍 ', '<b>', '1', '\u200d', '🇺', 'x'.repeat(40)]) {
    const res = await h.as(bob, 'PUT', reactUrl(conv.id, msg.id), { emoji: bad, reacted: true })
    t.equal(res.statusCode, 400, `refused: ${JSON.stringify(bad)}`)
    t.ok(['INVALID_EMOJI', 'VALIDATION_FAILED'].includes(res.json().code))
  }
  t.equal((await h.as(bob, 'PUT', reactUrl(conv.id, msg.id), { emoji: '👍', reacted: true, x: 1 })).statusCode, 400)

  t.equal((await h.as(mallory, 'PUT', reactUrl(conv.id, msg.id), { emoji: '👎', reacted: true })).statusCode, 404, 'non-members cannot react')
  t.equal((await h.as(mallory, 'PUT', reactUrl(other.id, msg.id), { emoji: '👎', reacted: true })).statusCode, 404, 'nor through their own conversation')
  t.equal(
    (await h.as(bob, 'PUT', reactUrl(conv.id, foreign.id), { emoji: '👎', reacted: true })).statusCode,
    404,
    "a member cannot reach another conversation's message"
  )
  const natsForeign = await h.nc.request('chat.reaction.set', JSON.stringify({ conversationId: conv.id, messageId: msg.id, emoji: '👎', reacted: true }), {
    timeout: 3000,
    headers: acting(mallory.userId)
  })
  t.equal(natsForeign.headers?.get('Nats-Service-Error-Code'), '404')

  const emoji = ['😀', '😁', '😂', '🤣', '😃', '😄', '😅', '😆', '😉', '😊', '😋', '😎', '😍', '😘', '🥰', '😗', '😙', '😚', '🙂', '🤗', '🤩']
  let status = 0
  let last = { code: '' }
  for (const e of emoji) {
    const res = await h.as(alice, 'PUT', reactUrl(conv.id, msg.id), { emoji: e, reacted: true })
    status = res.statusCode
    last = res.json()
    if (status !== 200) break
  }
  t.equal(status, 409, `the ${REACTION_LIMITS.distinctMax + 1}st different emoji is refused`)
  t.equal(last.code, 'TOO_MANY_REACTIONS')
  const full = (await h.as(alice, 'GET', url(conv.id))).json<{ items: Message[] }>().items.find((m) => m.id === msg.id)!
  t.equal(full.reactions.length, REACTION_LIMITS.distinctMax)
  const again = await h.as(bob, 'PUT', reactUrl(conv.id, msg.id), { emoji: '😀', reacted: true })
  t.equal(again.statusCode, 200, 'adding yourself to an existing emoji still works at the limit')

  const viaNats = await h.nc.request('chat.reaction.set', JSON.stringify({ conversationId: conv.id, messageId: msg.id, emoji: '😀', reacted: false }), {
    timeout: 3000,
    headers: acting(bob.userId)
  })
  t.ok(checkMessage.Check(viaNats.json()), 'NATS answers the message')
})

t.test('archived: no reactions or replies (HTTP and NATS), nothing written, nothing announced', async (t) => {
  const room = await h.createConversation(alice, 'Archived soon', [bob])
  const aliceEvents = collectEvents(h.nc, alice.userId)
  const parent = await h.send(alice, room.id, 'the last word')
  const reacted = await h.as(bob, 'PUT', `${url(room.id)}/${parent.id}/reactions`, { emoji: '👍', reacted: true })
  t.equal(reacted.statusCode, 200)
  t.equal((await h.as(alice, 'PUT', `/api/chat/conversations/${room.id}/archive`)).statusCode, 200)
  // The relay publishes in order: once the archiving arrived, so did everything before it.
  await aliceEvents.waitFor((e) => e.type === 'conversation.updated' && (e.conversation as { archivedAt: string | null }).archivedAt !== null, 10_000)
  const before = aliceEvents.events.length

  for (const [what, res] of [
    ['a reaction', await h.as(bob, 'PUT', `${url(room.id)}/${parent.id}/reactions`, { emoji: '🎉', reacted: true })],
    ['taking a reaction back', await h.as(bob, 'PUT', `${url(room.id)}/${parent.id}/reactions`, { emoji: '👍', reacted: false })],
    ['a reply', await post(bob, room.id, { text: 'one more', parentId: parent.id })],
    ['a reply that mentions', await post(bob, room.id, { text: 'hey @alice', parentId: parent.id, mentions: [alice.userId] })]
  ] as const) {
    t.equal(res.statusCode, 409, `${what} is refused`)
    t.equal(res.json().code, 'CONVERSATION_ARCHIVED')
  }
  const viaNats = await h.nc.request('chat.reaction.set', JSON.stringify({ conversationId: room.id, messageId: parent.id, emoji: '🎉', reacted: true }), {
    timeout: 3000,
    headers: acting(bob.userId)
  })
  t.equal(viaNats.headers?.get('Nats-Service-Error-Code'), '409', 'NATS refuses the same way')
  t.equal(
    (await h.as(mallory, 'PUT', `${url(room.id)}/${parent.id}/reactions`, { emoji: '🎉', reacted: true })).statusCode,
    404,
    'a stranger still learns nothing'
  )

  const page = (await h.as(alice, 'GET', url(room.id))).json<{ items: Message[] }>().items
  t.same(
    page.map((m) => m.id),
    [parent.id],
    'no reply was stored'
  )
  t.same(page[0]?.reactions, [{ emoji: '👍', count: 1, userIds: [bob.userId] }], 'the reactions are as they were')
  t.equal(page[0]?.thread, null, 'no thread summary')
  t.same(
    (await h.as(alice, 'GET', '/api/chat/mentions')).json<{ items: { conversationId: string }[] }>().items.filter((i) => i.conversationId === room.id),
    []
  )
  // A later event proves the earlier ones (none) would have arrived first: the relay publishes in order.
  await h.as(alice, 'DELETE', `/api/chat/conversations/${room.id}/archive`)
  await aliceEvents.waitFor((e) => e.type === 'conversation.updated' && (e.conversation as { archivedAt: string | null }).archivedAt === null, 10_000)
  t.same(
    aliceEvents.events
      .slice(before)
      .filter((e) => /^(message\.|mention\.|thread\.)/.test(String(e.type)))
      .map((e) => e.type),
    [],
    'nothing was announced'
  )
})
