// Unit-level rules (no database, no NATS): one file so the suite starts one process for them.
import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { generateSigningKey } from '@palisade/platform'
import { TokenCache } from '../src/lib/token-cache.js'
import { normalizeRequestPath } from '@palisade/contracts'
import { accessCookie, requestPath } from '../src/routes/verify.js'

const key = generateSigningKey()
const entry = (exp: number, sessionId = randomUUID()) => ({ userId: randomUUID(), sessionId, roles: ['user'], exp })

test('verified tokens: kept until expiry, dropped on revocation, bounded', async (t) => {
  const now = 1_000_000
  const cache = new TokenCache(60_000, 3)
  const a = entry(now + 100)
  cache.set('h-a', a, now)
  t.equal(cache.get('h-a', now), a)
  t.equal(cache.get('h-a', now + 100), undefined, 'expired at exp')
  cache.set('h-a', a, now + 100)
  t.equal(cache.get('h-a', now), undefined, 'an expired entry is not stored again')

  const b = entry(now + 500)
  cache.set('h-b1', b, now)
  cache.set('h-b2', b, now)
  cache.revoke([b.sessionId])
  t.equal(cache.get('h-b1', now), undefined, 'every token of a revoked session is dropped')
  t.equal(cache.get('h-b2', now), undefined)
  cache.set('h-b3', b, now)
  t.equal(cache.get('h-b3', now), undefined, 'and cannot be cached again while the revocation is remembered')
  t.ok(cache.isRevoked(b.sessionId))
  t.notOk(cache.isRevoked(b.sessionId, Date.now() + 61_000), 'remembered for the configured time only')

  const many = [0, 1, 2, 3].map(() => entry(now + 500))
  for (const [i, e] of many.entries()) cache.set(`h-${i}`, e, now)
  t.equal(cache.get('h-0', now), undefined, 'the oldest entry is evicted beyond the bound')
  t.ok(cache.get('h-3', now))
})

test('assertions: one per (session, audience), reused until shortly before expiry, dropped on revocation', async (t) => {
  const cache = new TokenCache(60_000)
  const now = Math.floor(Date.now() / 1000)
  const v = entry(now + 900)
  const first = cache.assertionFor(v, 'chat', key, 'palisade-auth', now)
  t.equal(cache.assertionFor(v, 'chat', key, 'palisade-auth', now + 40), first, 'reused while more than 15 s remain')
  t.not(cache.assertionFor(v, 'files', key, 'palisade-auth', now), first, 'another audience gets its own')
  t.not(cache.assertionFor(v, 'chat', key, 'palisade-auth', now + 50), first, 're-signed when 10 s remain')
  const current = cache.assertionFor(v, 'chat', key, 'palisade-auth', now + 50)
  cache.revoke([v.sessionId])
  t.not(cache.assertionFor(v, 'chat', key, 'palisade-auth', now + 50), current, 'a revocation drops it')

  // A lease renewal must move the lease on: it reuses only an assertion signed within 5 s.
  const w = entry(now + 900)
  const g1 = cache.assertionFor(w, 'gateway', key, 'palisade-auth', now)
  t.equal(cache.assertionFor(w, 'gateway', key, 'palisade-auth', now + 4, true), g1, 'a renewal reuses one signed within 5 s')
  const g2 = cache.assertionFor(w, 'gateway', key, 'palisade-auth', now + 6, true)
  t.not(g2, g1, 'a later renewal gets a new one, though the old one had 54 s left')
  t.equal(cache.assertionFor(w, 'gateway', key, 'palisade-auth', now + 7), g2, 'which every other request then reuses')

  const short = entry(now + 10)
  const s1 = cache.assertionFor(short, 'chat', key, 'palisade-auth', now)
  const payload = JSON.parse(Buffer.from(s1.split('.')[1]!, 'base64url').toString())
  t.equal(payload.exp, now + 10, 'never outlives the access token')
  t.equal(cache.assertionFor(short, 'chat', key, 'palisade-auth', now + 5), s1, 'and is reused until it ends with it')

  // The clock ticked between the caller's reading (a second ago) and the signature.
  const late = entry(now - 1 + 10)
  const s2 = cache.assertionFor(late, 'chat', key, 'palisade-auth', now - 1)
  t.equal(JSON.parse(Buffer.from(s2.split('.')[1]!, 'base64url').toString()).exp, late.exp, 'not even by the second that ticked while signing')
})

test('the fast path for request paths agrees with normalizeRequestPath', async (t) => {
  const corpus = [
    '/api/chat/conversations',
    '/api/chat/conversations?limit=5&x=//y',
    '/',
    '/ws',
    '/api/files/abc-DEF_1~2',
    '/api//chat',
    '//api/chat',
    '/api/chat/',
    '/api/chat/../files',
    '/api/chat/./x',
    '/api/%2e%2e/x',
    '/api/chat%2fx',
    '/api/chat\\x',
    '/api/chat/x#frag',
    '/api/chat/x?#',
    'api/chat',
    '',
    '/a b',
    '/api/chat/%41',
    '/api/\u0000',
    `/${'a'.repeat(9000)}`,
    `/a?${'q'.repeat(9000)}`,
    '/api/chat/x.json',
    '/api/chat/..',
    '/api/chat/...'
  ]
  for (const uri of corpus) t.equal(requestPath(uri), normalizeRequestPath(uri), JSON.stringify(uri.slice(0, 40)))
})

test('the access cookie is read only as a whole cookie, and only once', async (t) => {
  t.equal(accessCookie('palisade_access=abc'), 'abc')
  t.equal(accessCookie('a=1; palisade_access=abc; b=2'), 'abc')
  t.equal(accessCookie('a=1;palisade_access=abc'), 'abc')
  t.equal(accessCookie('xpalisade_access=evil'), undefined, 'a longer name that ends the same is another cookie')
  t.equal(accessCookie('xpalisade_access=evil; palisade_access=abc'), 'abc')
  t.equal(accessCookie('a=palisade_access=evil'), undefined, 'inside another cookie’s value')
  t.equal(accessCookie('palisade_access=abc; palisade_access=def'), null, 'twice: cookie tossing')
  t.equal(accessCookie('palisade_access='), undefined)
  t.equal(accessCookie(undefined), undefined)
  t.equal(accessCookie(['palisade_access=abc']), undefined)
})
