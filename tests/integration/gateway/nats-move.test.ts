import t from 'tap'
import { startNatsCluster } from '@palisade/platform/testing'
import { gatewayHarness, type Client } from './helpers.js'

/**
 * A gateway whose NATS node dies moves to another node of the cluster. Events published in between
 * never reach it, so it asks every socket to reconnect (4000): the client comes back through the
 * edge and catches up over HTTP, and the new socket gets every event from then on.
 */
const cluster = await startNatsCluster(2)
t.teardown(() => cluster.stop())
const h = await gatewayHarness(t, { natsUrl: cluster.url })
const [ann, bo] = [await h.stack.createUser(), await h.stack.createUser()]

t.test('its node gone, the gateway asks its sockets to reconnect and delivers again from the other node', async (t) => {
  const conv = await h.createConversation(ann, 'moving', [bo])
  const before = await h.connect(bo)
  const server = h.gw.nats.getServer()
  const node = cluster.nodes.find((n) => server.endsWith(`:${n.port}`))
  t.ok(node, `the gateway is on one of the nodes (${server})`)
  node!.process.kill('SIGKILL')

  t.match(await before.closedWithin(10_000), { code: 4000 }, 'its socket is closed with 4000 (reconnect)')
  // The client's back-off: try again until the gateway is connected to the other node and says hello.
  let after: Client | undefined
  for (let i = 0; i < 40 && !after; i++) {
    after = await h.connect(bo).catch(async () => {
      await new Promise((r) => setTimeout(r, 250))
      return undefined
    })
  }
  t.ok(after, 'a new socket is accepted')
  t.not(h.gw.nats.getServer(), server, 'the gateway is on the other node')

  const headers = await h.stack.identityHeaders(ann, { method: 'POST', uri: `/api/chat/conversations/${conv.id}/messages` })
  const sent = await h.chat.inject({
    method: 'POST',
    url: `/api/chat/conversations/${conv.id}/messages`,
    headers,
    payload: { text: 'after the move', clientMessageId: crypto.randomUUID() }
  })
  t.equal(sent.statusCode, 201)
  t.match(await after!.waitFor((f) => f.type === 'message.created', 10_000), { message: { text: 'after the move' } }, 'the new socket gets the message')
})
