import t from 'tap'
import WebSocket from 'ws'
import { baseUrl, buildService } from '@palisade/testkit'
import { createEdge } from '@palisade/scripts/edge'
import chatApp from '@palisade/chat'
import gatewayApp, { type GatewayAppConfig } from '@palisade/gateway'
import { startTestStack } from '../helpers/stack.js'
import { Client } from './helpers.js'

const ORIGIN = 'http://localhost:8080'

/**
 * A script with a personal access token, through the local edge exactly as in docs/machine-access.md: curl-like
 * HTTP to chat, a Node WebSocket client on the gateway (token in Authorization, or as a subprotocol
 * value), and revocation closing its socket.
 */
t.test('personal access tokens through the edge, HTTP and WebSocket', async (t) => {
  const stack = await startTestStack(t, { auth: { ALLOWED_ORIGINS: ORIGIN } })
  const config = stack.config({ ALLOWED_ORIGINS: ORIGIN })
  const chat = await buildService(t, chatApp, config, { service: 'chat', listen: true })
  const gateway = await buildService(t, gatewayApp, config as GatewayAppConfig, { service: 'gateway', listen: true })
  const edge = createEdge({ upstreams: { auth: stack.authUrl, chat: baseUrl(chat), gateway: baseUrl(gateway) }, authVerifyUrl: `${stack.authUrl}/auth/verify` })
  const port = await edge.listen(0)
  t.teardown(() => edge.close())
  const edgeUrl = `http://127.0.0.1:${port}`
  const [alice, bob] = await Promise.all([stack.createUser(), stack.createUser()])

  const req = async (headers: Record<string, string>, method: string, path: string, body?: unknown) => {
    const res = await fetch(edgeUrl + path, {
      method,
      headers: { accept: 'application/json', ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {})
    })
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null }
  }
  const browser = { cookie: alice.cookie, origin: ORIGIN }
  const created = await req(browser, 'POST', '/auth/tokens', { name: 'bot', scopes: ['read', 'write'], expiresInDays: 7 })
  t.equal(created.status, 201, 'minted from the browser session (fresh login = step-up satisfied)')
  const token = created.body.token as string
  const tokenId = created.body.info.id as string
  const readOnly = (await req(browser, 'POST', '/auth/tokens', { name: 'reader', scopes: ['read'], expiresInDays: 7 })).body.token as string
  const auth = (tok: string) => ({ authorization: `Bearer ${tok}` })

  const conv = await req(auth(token), 'POST', '/api/chat/conversations', { title: 'Bot room', memberIds: [bob.userId] })
  t.equal(conv.status, 201, 'curl-style POST with the token, no Origin, no cookie')
  const convId = conv.body.id as string
  const denied = await req(auth(readOnly), 'POST', `/api/chat/conversations/${convId}/messages`, { text: 'nope', clientMessageId: 'ro-1' })
  t.equal(denied.status, 403)
  t.equal(denied.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal(denied.body.code, 'INSUFFICIENT_SCOPE')
  t.equal((await req({ ...auth(token), cookie: alice.cookie }, 'GET', '/api/chat/conversations')).status, 400, 'cookie and bearer never mix')
  t.equal((await req(auth(readOnly), 'GET', `/api/chat/conversations/${convId}/messages`)).status, 200, 'a read token reads')
  t.equal((await req(auth(token), 'POST', '/auth/tokens', { name: 'x', scopes: ['read'], expiresInDays: 1 })).status, 403, 'a token never mints tokens')

  const open = async (opts: { headers?: Record<string, string>; protocols?: string[] }) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, opts.protocols ?? [], { headers: opts.headers ?? {} })
    t.teardown(() => ws.terminate())
    const client = new Client(ws)
    const upgrade = new Promise<Record<string, string | string[] | undefined>>((resolve) => ws.once('upgrade', (res) => resolve(res.headers)))
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('unexpected-response', (_q, res) => reject(Object.assign(new Error(`handshake ${res.statusCode}`), { status: res.statusCode })))
      ws.once('error', reject)
    })
    await client.type('hello')
    return { client, ws, headers: await upgrade }
  }

  const viaHeader = await open({ headers: auth(token) })
  t.equal(viaHeader.client.frames[0]!.userId, alice.userId, 'the socket acts as the token’s user')
  const viaProtocol = await open({ protocols: ['palisade', `palisade.bearer.${token}`], headers: { origin: 'https://tools.example' } })
  t.equal(viaProtocol.ws.protocol, 'palisade', 'the gateway answers the plain subprotocol')
  t.notOk(JSON.stringify(viaProtocol.headers).includes(token), 'and never echoes the token')
  await t.rejects(open({ protocols: [`palisade.bearer.${token}`] }), /no subprotocol/, 'offered alone, the token is never selected (echoed)')
  const bobSocket = await open({ headers: { cookie: bob.cookie, origin: ORIGIN } })
  await t.rejects(open({ headers: { cookie: bob.cookie, origin: 'https://evil.example' } }), { status: 403 }, 'cookie handshakes still need the Origin')
  await t.rejects(open({ headers: auth(readOnly) }), { status: 403 }, 'the socket needs write')

  viaHeader.client.send({ type: 'message.send', id: 's1', conversationId: convId, text: 'hello from a bot', clientMessageId: 'bot-1' })
  const ack = await viaHeader.client.waitFor((f) => f.type === 'ack' && f.ref === 's1')
  const got = await bobSocket.client.waitFor((f) => f.type === 'message.created')
  t.equal((got.message as { id: string }).id, (ack.message as { id: string }).id, 'Bob receives the bot’s message')
  await viaProtocol.client.waitFor((f) => f.type === 'message.created')

  const renewed = await req(auth(token), 'GET', '/ws')
  t.equal(renewed.status, 200, 'a bot renews its sockets’ lease with the same bearer (docs/machine-access.md example)')
  t.ok(Date.parse(renewed.body.expiresAt) > Date.now())

  const started = Date.now()
  t.equal((await req(browser, 'DELETE', `/auth/tokens/${tokenId}`)).status, 204)
  const closes = await Promise.all([viaHeader.client.closedWithin(1000), viaProtocol.client.closedWithin(1000)])
  t.comment(`token sockets closed ${Date.now() - started} ms after the revocation request started`)
  for (const c of closes) t.match(c, { code: 4001 }, 'revoked: the token’s sockets close')
  t.equal((await req(auth(token), 'GET', '/api/chat/conversations')).status, 401, 'and HTTP is refused')
  t.equal(bobSocket.ws.readyState, WebSocket.OPEN, 'other people’s sockets stay')
})
