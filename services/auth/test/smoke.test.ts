import { test } from 'tap'
import { startTestStack } from '@palisade/testkit'
import { IDENTITY_HEADERS } from '@palisade/contracts'

test('register, login, verify: the minimum other services build on', async (t) => {
  const stack = await startTestStack(t)
  const alice = await stack.createUser({ displayName: 'Alice' })
  t.match(alice, { userId: /^[0-9a-f-]{36}$/, sessionId: /^[0-9a-f-]{36}$/, cookie: /^palisade_access=ey/ })
  const h = await stack.identityHeaders(alice, { method: 'GET', uri: '/api/chat/conversations' })
  t.equal(h[IDENTITY_HEADERS.user], alice.userId)
  t.equal(h[IDENTITY_HEADERS.session], alice.sessionId)
  const claims = JSON.parse(Buffer.from(h[IDENTITY_HEADERS.assertion]!.split('.')[1]!, 'base64url').toString())
  t.equal(claims.aud, 'chat')
  t.ok(h['x-request-id'])
})
