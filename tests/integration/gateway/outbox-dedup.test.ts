import t from 'tap'
import { headers as natsHeaders, type Msg } from '@nats-io/transport-node'
import { NATS_HEADERS } from '@palisade/contracts'
import { gatewayHarness, sleep } from './helpers.js'

t.test('a relayed event delivered again (same Palisade-Event-Id) reaches a socket once', async (t) => {
  const h = await gatewayHarness(t)
  const [alice, bob] = [await h.stack.createUser(), await h.stack.createUser()]
  const conv = await h.createConversation(alice, 'at least once', [bob])
  const socket = await h.connect(bob)

  const relayed: Msg[] = []
  h.nc.subscribe(`events.user.${bob.userId}`, { callback: (_err, msg) => relayed.push(msg) })
  await h.nc.flush()
  const headers = await h.stack.identityHeaders(alice, { method: 'POST', uri: `/api/chat/conversations/${conv.id}/messages` })
  const sent = await h.chat.inject({
    method: 'POST',
    url: `/api/chat/conversations/${conv.id}/messages`,
    headers,
    payload: { text: 'once', clientMessageId: 'o1' }
  })
  t.equal(sent.statusCode, 201)
  const messageId = sent.json<{ id: string }>().id
  const isIt = (f: { type: string; message?: unknown }) => f.type === 'message.created' && (f.message as { id: string }).id === messageId
  await socket.waitFor(isIt)
  while (!relayed.some((m) => m.json<{ type: string }>().type === 'message.created')) await sleep(20)
  const original = relayed.find((m) => m.json<{ type: string }>().type === 'message.created')!
  const eventId = original.headers?.get(NATS_HEADERS.eventId)
  t.match(eventId, /^[0-9a-f-]{36}$/, 'the relay names the event')

  // What a relay that died after publishing and before recording it does: the same event again.
  const again = natsHeaders()
  again.set(NATS_HEADERS.eventId, eventId!)
  h.nc.publish(`events.user.${bob.userId}`, original.data, { headers: again })
  h.nc.publish(`events.user.${bob.userId}`, original.data, { headers: again })
  // The same bytes under another id are another event: delivered (the key is the id, not the content).
  const other = natsHeaders()
  other.set(NATS_HEADERS.eventId, '00000000-0000-4000-8000-000000000001')
  h.nc.publish(`events.user.${bob.userId}`, original.data, { headers: other })
  await h.nc.flush()
  await socket.waitFor((f) => isIt(f) && socket.frames.filter(isIt).length >= 2)
  await sleep(500)
  t.equal(socket.frames.filter(isIt).length, 2, 'the duplicate was dropped, the other id delivered')
})
