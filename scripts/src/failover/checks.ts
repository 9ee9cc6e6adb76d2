/** The properties checked outside the message flow: caches, limits, revocation. */
import { AUTH_COOKIES } from '@palisade/contracts'
import { accessCookie, request } from './http.js'
import type { Person } from './person.js'

export interface CheckResult {
  name: string
  ok: boolean
  detail: string
}

export interface Account {
  id: string
  email: string
  password: string
  address: string
  cookie: string
}

export interface Edge {
  base: string
  origin: string
}

export async function register(edge: Edge, email: string, password: string, address: string): Promise<Account> {
  const o = { address, origin: edge.origin }
  const reg = await request(edge.base, 'POST', '/auth/register', { ...o, json: { email, password, displayName: email.split('@')[0] } })
  if (reg.status !== 201) throw new Error(`register answered ${reg.status}: ${reg.body}`)
  return login(edge, email, password, address)
}

export async function login(edge: Edge, email: string, password: string, address: string): Promise<Account> {
  const res = await request(edge.base, 'POST', '/auth/login', { address, origin: edge.origin, json: { email, password } })
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.body}`)
  const cookie = accessCookie(res, AUTH_COOKIES.access)
  if (!cookie) throw new Error('login set no access cookie')
  return { id: (JSON.parse(res.body) as { user: { id: string } }).user.id, email, password, address, cookie }
}

/**
 * Several reads in a row through the edge reach every chat instance (round-robin). After a write on
 * one of them, all must show it: the caches of the others were invalidated.
 */
export async function cacheInvalidation(edge: Edge, owner: Account, conversationId: string, instances: number): Promise<CheckResult> {
  const o = { address: owner.address, cookie: owner.cookie, origin: edge.origin }
  const reads = 2 * instances
  const list = () => request(edge.base, 'GET', '/api/chat/conversations?limit=20', o)
  const page = () => request(edge.base, 'GET', `/api/chat/conversations/${conversationId}/messages?limit=50`, o)
  for (let i = 0; i < reads; i++) await Promise.all([list(), page()]) // fill every instance's caches
  const title = `renamed ${Date.now()}`
  const renamed = await request(edge.base, 'PATCH', `/api/chat/conversations/${conversationId}`, { ...o, json: { title } })
  const cid = `fo-cache-${Date.now()}`
  const posted = await request(edge.base, 'POST', `/api/chat/conversations/${conversationId}/messages`, {
    ...o,
    json: { text: 'cache check', clientMessageId: cid }
  })
  if (renamed.status !== 200 || posted.status !== 201)
    return { name: 'chat caches invalidated on every instance', ok: false, detail: `writes answered ${renamed.status}/${posted.status}` }
  // Invalidation travels by PostgreSQL NOTIFY: give it the moment it takes.
  await new Promise((r) => setTimeout(r, 300))
  let stale = 0
  for (let i = 0; i < reads; i++) {
    const [l, p] = await Promise.all([list(), page()])
    if (!l.body.includes(title)) stale++
    if (!p.body.includes(cid)) stale++
  }
  return {
    name: 'chat caches invalidated on every instance',
    ok: stale === 0,
    detail: `${reads} list reads and ${reads} page reads after a rename and a message: ${stale} stale`
  }
}

/** LOGIN_MAX_FAILURES wrong passwords from different addresses, whichever auth instance answers: then 429. */
export async function bruteForce(edge: Edge, victim: Account): Promise<CheckResult> {
  const statuses: number[] = []
  for (let i = 0; i < 7; i++) {
    const res = await request(edge.base, 'POST', '/auth/login', {
      address: `127.0.3.${10 + i}`,
      origin: edge.origin,
      json: { email: victim.email, password: `wrong guess number ${i}` }
    })
    statuses.push(res.status)
  }
  const ok = statuses.slice(0, 5).every((s) => s === 401) && statuses.slice(5).every((s) => s === 429)
  return { name: 'login brute-force count shared by the auth instances', ok, detail: `answers to 7 wrong passwords: ${statuses.join(' ')}` }
}

/**
 * The per-address request budget of auth's public endpoints (AUTH_RATE_LIMIT_PER_MINUTE), spent
 * from one address on requests the edge spreads over the auth instances.
 */
export async function requestBudget(edge: Edge, perMinute: number): Promise<CheckResult> {
  let passed = 0
  for (let i = 0; i < perMinute * 3; i++) {
    const res = await request(edge.base, 'POST', '/auth/refresh', { address: '127.0.4.1', origin: edge.origin, json: {} })
    if (res.status !== 429) passed++
  }
  return {
    name: 'per-address rate limit holds across auth instances',
    ok: passed <= perMinute,
    detail: `budget ${perMinute}/min, ${passed} of ${perMinute * 3} requests from one address were served`
  }
}

/** Sign-out on one auth instance closes the person's sockets on every gateway instance within 1 s. */
export async function revocation(edge: Edge, account: Account, sockets: Person[]): Promise<CheckResult & { ms: number }> {
  for (const s of sockets) s.settle()
  const t0 = Date.now()
  const res = await request(edge.base, 'POST', '/auth/logout', { address: account.address, cookie: account.cookie, origin: edge.origin, json: {} })
  const deadline = t0 + 5000
  while (Date.now() < deadline && !sockets.every((s) => s.closes.some((c) => c.code === 4001 && c.at >= t0))) await new Promise((r) => setTimeout(r, 10))
  const closed = sockets.map((s) => s.closes.find((c) => c.code === 4001 && c.at >= t0)?.at)
  const ms = Math.max(...closed.map((at) => (at ?? Number.POSITIVE_INFINITY) - t0))
  return {
    name: 'revocation closes sockets on every gateway instance within 1 s',
    ok: res.status === 204 && ms <= 1000,
    detail: `logout ${res.status}; ${closed.filter(Boolean).length}/${sockets.length} sockets closed with 4001, the last after ${Number.isFinite(ms) ? `${ms} ms` : 'never'}`,
    ms
  }
}
