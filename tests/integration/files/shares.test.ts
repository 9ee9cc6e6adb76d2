import t from 'tap'
import { randomUUID as randomUUIDv4 } from 'node:crypto'
import { baseUrl, buildService, type TestUser } from '@palisade/testkit'
import { captureLogs } from '@palisade/platform/testing'
import { createEdge } from '@palisade/scripts/edge'
import chatApp from '@palisade/chat'
import { startTestStack } from '../helpers/stack.js'
import { filePart, startFiles, upload, waitFor } from '../../../services/files/test/helpers.js'

// Share links end to end: through the local edge (the public route, ForwardAuth on the other one),
// with the real chat deciding who may read a conversation's file. A link dies with its creator's
// access; no log on the way — the edge's or the files service's — ever holds the token.
const stack = await startTestStack(t)
const chat = await buildService(t, chatApp, stack.config(), { service: 'chat' })
const serviceLogs = captureLogs()
const h = await startFiles(t, { SHARE_LINKS: 'public', LOG_LEVEL: 'info' }, { stack, listen: true, logStream: serviceLogs.stream })
const edgeLogs: string[] = []
const edge = createEdge({
  upstreams: { auth: stack.authUrl, files: baseUrl(h.app) },
  authVerifyUrl: `${stack.authUrl}/auth/verify`,
  log: (e) => edgeLogs.push(JSON.stringify(e))
})
const edgeUrl = `http://127.0.0.1:${await edge.listen(0)}`
t.teardown(() => edge.close())

const alice = await stack.createUser({ displayName: 'Alice Example' })
const bob = await stack.createUser({ displayName: 'Bob Example' })
const carol = await stack.createUser({ displayName: 'Carol Quiet' })
const bearer = (u: TestUser) => ({ authorization: `Bearer ${u.accessToken}` })

async function chatAs(user: TestUser, method: string, url: string, payload?: unknown) {
  const headers = await stack.identityHeaders(user, { method, uri: url })
  return chat.inject({ method: method as 'GET', url, headers, ...(payload ? { payload: payload as object } : {}) })
}
async function shareVia(user: TestUser, fileId: string | object) {
  const res = await fetch(`${edgeUrl}/api/files/shares`, {
    method: 'POST',
    headers: { ...bearer(user), 'content-type': 'application/json' },
    body: JSON.stringify(typeof fileId === 'string' ? { fileId } : fileId)
  })
  if (res.status !== 201) throw new Error(`share: ${res.status} ${await res.text()}`)
  return (await res.json()) as { token: string; path: string; link: { id: string } }
}

const conv = await chatAs(alice, 'POST', '/api/chat/conversations', { title: 'Team', memberIds: [bob.userId] })
const conversationId: string = conv.json().id
const up = await upload(h, alice, [{ name: 'conversationId', value: conversationId }, filePart('plan.txt', Buffer.from('the plan\n'), 'text/plain')])
const fileId: string = up.json().id
const tokens: string[] = []

t.test('a link opens through the public route of the edge, without a session', async (t) => {
  const s = await shareVia(bob, fileId)
  tokens.push(s.token)
  const res = await fetch(`${edgeUrl}${s.path}`)
  t.equal(res.status, 200)
  t.equal(await res.text(), 'the plan\n')
  t.match(res.headers.get('content-disposition'), /^attachment;/)
  t.equal(res.headers.get('referrer-policy'), 'no-referrer')
  t.match(res.headers.get('x-robots-tag'), /noindex/)
  t.match(res.headers.get('content-security-policy'), /sandbox/)
  t.equal(res.headers.get('set-cookie'), null)
  const noAccount = await fetch(`${edgeUrl}/api/files/shared/${s.token}`)
  t.equal(noAccount.status, 401, 'the account path is forward-authed at the edge')
  const withAccount = await fetch(`${edgeUrl}/api/files/shared/${s.token}`, { headers: bearer(alice) })
  t.equal(withAccount.status, 200)
})

t.test('a link dies with its creator’s access', async (t) => {
  const bobs = await shareVia(bob, fileId)
  const alices = await shareVia(alice, fileId)
  tokens.push(bobs.token, alices.token)
  t.equal((await fetch(`${edgeUrl}${bobs.path}`)).status, 200)
  const removed = await chatAs(alice, 'DELETE', `/api/chat/conversations/${conversationId}/members/${bob.userId}`)
  t.equal(removed.statusCode, 204)
  t.equal((await fetch(`${edgeUrl}${bobs.path}`)).status, 404, 'bob left the conversation: his link is dead at once')
  t.equal((await fetch(`${edgeUrl}${alices.path}`)).status, 200, "the owner's link still works")

  const deleted = await chatAs(alice, 'DELETE', `/api/chat/conversations/${conversationId}`)
  t.equal(deleted.statusCode, 204)
  t.ok(await waitFor(async () => (await fetch(`${edgeUrl}${alices.path}`)).status === 404), "the conversation was deleted: its file's links are dead")
})

t.test('a conversation snapshot: messages and names as they were, nothing else', async (t) => {
  const team = (await chatAs(alice, 'POST', '/api/chat/conversations', { title: 'Snap', memberIds: [bob.userId, carol.userId] })).json().id as string
  const say = async (user: TestUser, text: string) =>
    (await chatAs(user, 'POST', `/api/chat/conversations/${team}/messages`, { text, clientMessageId: `c-${Math.random()}` })).json() as { id: string }
  const first = await say(alice, 'Hello <script>alert(1)</script> & welcome')
  const second = await say(bob, 'Thanks, see you\non Monday')

  const outsider = await fetch(`${edgeUrl}/api/files/shares`, {
    method: 'POST',
    headers: { ...bearer(carol), 'content-type': 'application/json' },
    body: JSON.stringify({ conversationId: randomUUIDv4() })
  })
  t.equal(outsider.status, 404, 'nobody snapshots a conversation they are not in')

  const all = await shareVia(bob, { conversationId: team })
  tokens.push(all.token)
  t.match(all.link, { kind: 'conversation', conversationId: team, fileId: null })
  const chosen = await shareVia(bob, { conversationId: team, messageIds: [first.id] })
  tokens.push(chosen.token)
  const bad = await fetch(`${edgeUrl}/api/files/shares`, {
    method: 'POST',
    headers: { ...bearer(bob), 'content-type': 'application/json' },
    body: JSON.stringify({ conversationId: team, messageIds: [randomUUIDv4()] })
  })
  t.equal(bad.status, 400, 'a chosen message must be in the conversation')

  // Edited after the link was made: the snapshot keeps what was there.
  await chatAs(alice, 'PATCH', `/api/chat/conversations/${team}/messages/${first.id}`, { text: 'edited later' })

  const page = await fetch(`${edgeUrl}${all.path}`)
  t.equal(page.status, 200)
  const html = await page.text()
  t.match(page.headers.get('content-type'), /^text\/html/)
  t.match(page.headers.get('content-security-policy'), /default-src 'none'/)
  t.match(page.headers.get('content-security-policy'), /sandbox/)
  t.equal(page.headers.get('referrer-policy'), 'no-referrer')
  t.match(page.headers.get('x-robots-tag'), /noindex/)
  t.equal(page.headers.get('set-cookie'), null)
  t.ok(html.includes('Alice Example') && html.includes('Bob Example'), 'authors by display name')
  t.ok(html.includes('Hello &lt;script&gt;alert(1)&lt;/script&gt; &amp; welcome'), 'the text as it was, escaped')
  t.notOk(html.includes('<script'), 'no markup from a message')
  t.notOk(html.includes('edited later'), 'later edits do not reach the snapshot')
  t.notOk(html.includes('Carol Quiet'), 'no member list: a member who said nothing is not named')
  for (const u of [alice, bob, carol]) {
    t.notOk(html.includes(u.email), 'no email address')
    t.notOk(html.includes(u.userId), 'no user id')
  }
  t.notOk(html.includes(second.id) || html.includes(team), 'no ids')
  const only = await (await fetch(`${edgeUrl}${chosen.path}`)).text()
  t.ok(only.includes('Alice Example') && !only.includes('see you'), 'chosen messages only')

  await chatAs(alice, 'DELETE', `/api/chat/conversations/${team}/members/${bob.userId}`)
  t.equal((await fetch(`${edgeUrl}${all.path}`)).status, 404, "the creator left: the snapshot's link is dead")
})

t.test('no token in any log on the way, nor from a Referer', async (t) => {
  const s = tokens[0]!
  await fetch(`${edgeUrl}/api/files`, { headers: { ...bearer(alice), referer: `https://palisade.example/s/${s}` } })
  await fetch(`${edgeUrl}/s/${s}`)
  t.ok(
    edgeLogs.some((l) => l.includes('/s/[redacted]')),
    'the edge logs share-link requests, redacted'
  )
  for (const token of tokens) {
    t.notOk(edgeLogs.join('\n').includes(token), 'not in the edge log')
    t.notOk(serviceLogs.text().includes(token), 'not in the files service log')
  }
})
