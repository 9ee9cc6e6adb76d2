import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import { AuthJwksGet, AuthUserLookup, IDENTITY_HEADERS } from '@palisade/contracts'
import { connectNats, generateSigningKey, natsRequest, signingKeyToPem, type SigningKey } from '@palisade/platform'
import { loadSigningKeys, type AuthConfig } from '../src/config.js'
import { call, decodeJwt, forwarded, verifyAt, startTestStack } from './helpers.js'

test('NATS: auth.jwks.get and auth.user.lookup', async (t) => {
  const stack = await startTestStack(t)
  const nc = await connectNats({ url: stack.natsUrl, name: 'chat' })
  t.teardown(() => nc.close())
  const alice = await stack.createUser({ displayName: 'Alice' })
  const bob = await stack.createUser({ displayName: 'Bob' })

  const jwks = await natsRequest(nc, AuthJwksGet, {})
  t.equal(jwks.keys.length, 1)
  t.match(jwks.keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: decodeJwt(alice.accessToken).header.kid })
  t.notOk('d' in jwks.keys[0]!, 'never the private part')
  const http = await call(`${stack.authUrl}/.well-known/jwks.json`)
  t.same(http.json(), jwks, 'the internal HTTP route serves the same set')

  const found = await natsRequest(nc, AuthUserLookup, { userIds: [alice.userId, bob.userId.toUpperCase(), randomUUID()] })
  t.same(
    found.users.sort((a, b) => a.displayName.localeCompare(b.displayName)),
    [
      { id: alice.userId, displayName: 'Alice' },
      { id: bob.userId, displayName: 'Bob' }
    ],
    'public profiles only (no email), unknown ids left out'
  )
  await t.rejects(
    natsRequest(nc, { ...AuthUserLookup, request: AuthJwksGet.request } as never, {} as never),
    { statusCode: 400 },
    'invalid payloads are refused'
  )
  await t.rejects(natsRequest(nc, { ...AuthUserLookup, request: AuthJwksGet.request } as never, { userIds: ['x'], email: 'a' } as never), { statusCode: 400 })
})

test('key rotation: the first key signs, every configured key verifies and is published', async (t) => {
  const oldKey = generateSigningKey()
  const newKey = generateSigningKey()
  // Phase 1: only the old key.
  const stack = await startTestStack(t, { auth: { AUTH_SIGNING_KEYS: signingKeyToPem(oldKey) } })
  const alice = await stack.createUser()
  t.equal(decodeJwt(alice.accessToken).header.kid, oldKey.kid)
  // Phase 2: a second instance with new key first, old key second (what a rolling rotation deploys).
  const rotated = await stack.startAuth({ AUTH_SIGNING_KEYS: `${signingKeyToPem(newKey)}\n${signingKeyToPem(oldKey)}` })
  const old = await verifyAt(rotated.app, forwarded('GET', '/api/chat/x', { cookie: alice.cookie }))
  t.equal(old.status, 200, 'tokens signed by the old key stay valid')
  t.equal(decodeJwt(old.headers.get(IDENTITY_HEADERS.assertion)!).header.kid, newKey.kid, 'new assertions use the new key')
  const login = await call(`${rotated.url}/auth/login`, { method: 'POST', json: { email: alice.email, password: alice.password } })
  t.equal(decodeJwt(login.json().accessToken).header.kid, newKey.kid, 'new access tokens use the new key')
  const jwks = await call(`${rotated.url}/auth/jwks`)
  t.same(
    jwks.json().keys.map((k: { kid: string }) => k.kid),
    [newKey.kid, oldKey.kid]
  )
  // Phase 3: old key dropped — its tokens die.
  const dropped = await stack.startAuth({ AUTH_SIGNING_KEYS: signingKeyToPem(newKey) })
  t.equal((await verifyAt(dropped.app, forwarded('GET', '/api/chat/x', { cookie: alice.cookie }))).status, 401)
  t.equal((await verifyAt(dropped.app, forwarded('GET', '/api/chat/x', { authorization: `Bearer ${login.json().accessToken}` }))).status, 200)
})

test('signing key configuration', async (t) => {
  const base = { NODE_ENV: 'production' } as AuthConfig
  const warn: string[] = []
  t.throws(() => loadSigningKeys(base, (m) => warn.push(m)), /required in production/)
  t.equal(loadSigningKeys({ ...base, NODE_ENV: 'development' }, (m) => warn.push(m)).length, 1, 'development runs on an ephemeral key')
  t.match(warn[0], /ephemeral/)
  t.throws(() => loadSigningKeys({ ...base, AUTH_SIGNING_KEYS: 'not a pem' }, () => {}), /no PEM private key/)
  const rsa = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  t.throws(() => loadSigningKeys({ ...base, AUTH_SIGNING_KEYS: rsa }, () => {}), /EC P-256/)
  const k: SigningKey = generateSigningKey()
  t.throws(() => loadSigningKeys({ ...base, AUTH_SIGNING_KEYS: signingKeyToPem(k) + signingKeyToPem(k) }, () => {}), /same key twice/)
  const escaped = signingKeyToPem(k).replace(/\n/g, '\\n')
  t.equal(loadSigningKeys({ ...base, AUTH_SIGNING_KEYS: escaped }, () => {})[0]!.kid, k.kid, 'PEM with escaped newlines (env files)')
})
