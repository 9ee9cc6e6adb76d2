import t from 'tap'
import { Compile } from 'typebox/compile'
import { ServerFrameSchema } from '@palisade/contracts'
import { gatewayHarness } from './helpers.js'

/**
 * Issue 26 items 2–4 through the gateway: a `message.send` frame may carry a parent and mentions
 * (checked by chat, refusals come back as error frames), and the mention, thread and reaction events
 * reach every socket of the users they concern — and only those.
 */
t.test('mentions, replies and reactions over the socket', async (t) => {
  const h = await gatewayHarness(t)
  const [alice, bob, mallory] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Realtime threads', [bob])
  const serverFrame = Compile(ServerFrameSchema)
  const a = await h.connect(alice)
  const b1 = await h.connect(bob)
  const b2 = await h.connect(bob)
  const m = await h.connect(mallory)

  a.send({ type: 'message.send', id: 's1', conversationId: conv.id, text: 'hi <@bob>', clientMessageId: 's1', mentions: [bob.userId] })
  const ack = await a.waitFor((f) => f.type === 'ack' && f.ref === 's1')
  const parent = ack.message as { id: string; mentions: string[] }
  t.same(parent.mentions, [bob.userId])
  for (const [i, s] of [b1, b2].entries()) {
    const ev = await s.waitFor((f) => f.type === 'mention.created' && f.messageId === parent.id)
    t.ok(serverFrame.Check(ev), `bob's socket ${i + 1} gets the mention, as the contract says`)
  }

  a.send({ type: 'message.send', id: 's2', conversationId: conv.id, text: 'x', clientMessageId: 's2', mentions: [mallory.userId] })
  t.match(await a.waitFor((f) => f.type === 'error' && f.ref === 's2'), { code: 'MENTION_NOT_MEMBER' }, 'a non-member cannot be mentioned')
  a.send({ type: 'message.send', id: 's3', conversationId: conv.id, text: 'x', clientMessageId: 's3', massMention: 'all' })
  t.match(await a.waitFor((f) => f.type === 'error' && f.ref === 's3'), { code: 'MASS_MENTIONS_DISABLED' })

  b1.send({ type: 'message.send', id: 'r1', conversationId: conv.id, text: 'reply', clientMessageId: 'r1', parentId: parent.id })
  const reply = (await b1.waitFor((f) => f.type === 'ack' && f.ref === 'r1')).message as { id: string; parentId: string }
  t.equal(reply.parentId, parent.id)
  const replied = await a.waitFor((f) => f.type === 'thread.replied' && f.messageId === reply.id)
  t.ok(serverFrame.Check(replied), 'the parent’s author hears of the reply')
  const updated = await b2.waitFor((f) => f.type === 'message.updated' && (f.message as { id: string }).id === parent.id)
  t.match(updated.message, { thread: { replyCount: 1, repliers: [bob.userId] } }, 'members see the count')

  const url = `/api/chat/conversations/${conv.id}/messages/${parent.id}/reactions`
  const res = await h.chat.inject({
    method: 'PUT',
    url,
    headers: await h.stack.identityHeaders(bob, { method: 'PUT', uri: url }),
    payload: { emoji: '🎉', reacted: true }
  })
  t.equal(res.statusCode, 200)
  const reacted = await a.waitFor((f) => f.type === 'message.updated' && JSON.stringify(f.message).includes('🎉'))
  t.match(reacted.message, { reactions: [{ emoji: '🎉', count: 1, userIds: [bob.userId] }] }, 'a reaction reaches every member')
  m.send({ type: 'ping', id: 'mp' })
  await m.waitFor((f) => f.type === 'pong' && f.ref === 'mp')
  t.notOk(
    m.frames.some((f) => ['mention.created', 'thread.replied', 'message.updated', 'message.created'].includes(f.type)),
    'an outsider hears nothing of it'
  )
  for (const s of [a, b1, b2, m]) s.close()
})
