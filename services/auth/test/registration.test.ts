import { test } from 'tap'
import type { TestUser } from '@palisade/testkit'
import { call, decodeJwt, ORIGIN, startTestStack, type TestStack } from './helpers.js'

const PASSWORD = 'a long enough password for tests'
const register = (stack: TestStack, email: string, extra: Record<string, unknown> = {}) =>
  call(`${stack.authUrl}/auth/register`, {
    method: 'POST',
    headers: { origin: ORIGIN },
    json: { email, password: PASSWORD, displayName: email.split('@')[0], ...extra }
  })

async function asUser(stack: TestStack, user: TestUser, method: string, url: string, json?: unknown) {
  const headers = await stack.identityHeaders(user, { method, uri: url })
  return stack.auth.inject({ method: method as 'GET', url, headers, ...(json !== undefined ? { payload: json as object } : {}) })
}

const roleOf = async (stack: TestStack, email: string) =>
  (await stack.auth.pg.query<{ roles: string[] }>('SELECT roles FROM auth.users WHERE email = $1', [email])).rows[0]?.roles

test('two simultaneous first registrations on a fresh installation: exactly one admin', async (t) => {
  // Open, so that every racer gets an account and the question is only which becomes admin.
  const stack = await startTestStack(t, { auth: { AUTH_REGISTRATION: 'open' } })
  const emails = Array.from({ length: 6 }, (_, i) => `first${i}@example.com`)
  const answers = await Promise.all(emails.map((e) => register(stack, e)))
  t.same(
    answers.map((a) => a.status),
    Array(6).fill(201),
    'open mode: everyone registers'
  )
  const admins = answers.filter((a) => a.json().roles[0] === 'admin')
  t.equal(admins.length, 1, 'exactly one of them is admin')
  const r = await stack.auth.pg.query("SELECT count(*)::int AS n FROM auth.users WHERE roles = '{admin}'")
  t.equal(r.rows[0].n, 1, 'and the database agrees')
})

test('default mode: the first account registers and is admin, then an invite is required', async (t) => {
  const stack = await startTestStack(t, { auth: { AUTH_REGISTRATION: undefined } })
  // Four people race for the first account of a fresh installation: one gets it, as admin.
  const racers = await Promise.all(['root', 'r2', 'r3', 'r4'].map((n) => register(stack, `${n}@example.com`)))
  t.same(racers.map((r) => r.status).sort(), [201, 403, 403, 403], 'one account')
  const first = racers.find((r) => r.status === 201)!
  t.same(first.json().roles, ['admin'], 'the first account becomes admin')
  for (const r of racers.filter((x) => x.status === 403)) t.equal(r.json().code, 'INVITE_REQUIRED', 'the others need an invite')
  // The rest of this test signs in as the winner.
  const winner = first.json().email as string
  await stack.auth.pg.query('UPDATE auth.users SET email = $1 WHERE email = $2', ['root@example.com', winner])
  const second = await register(stack, 'someone@example.com')
  t.equal(second.status, 403, 'once an admin exists, registration needs an invite')
  t.equal(second.json().code, 'INVITE_REQUIRED')
  t.equal(await roleOf(stack, 'someone@example.com'), undefined, 'nothing written')

  const login = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: 'root@example.com', password: PASSWORD } })
  t.same(decodeJwt(login.json().accessToken).payload.roles, ['admin'], 'the access token says admin')
  t.same(login.json().user.roles, ['admin'])
})

test('invites: single use (also when raced), expiry, revocation, address binding', async (t) => {
  const stack = await startTestStack(t, { auth: { AUTH_REGISTRATION: 'invite' } })
  const admin = await stack.createUser({ email: 'admin@example.com' }) // the first account: always allowed
  const invite = async (body: Record<string, unknown> = {}) => {
    const r = await asUser(stack, admin, 'POST', '/auth/admin/invites', body)
    t.equal(r.statusCode, 201, 'invite created')
    return r.json() as { invite: { id: string }; token: string; path: string }
  }

  const open = await invite()
  t.match(open.path, /^\/login#invite=[A-Za-z0-9_-]{43}$/, 'the link carries the token in the fragment')
  const stored = await stack.auth.pg.query('SELECT token_hash FROM auth.invites')
  t.notOk(
    stored.rows.some((r) => r.token_hash === open.token),
    'invite tokens are stored hashed'
  )
  // Two people racing with one invite: exactly one account.
  const race = await Promise.all(['racer1@example.com', 'racer2@example.com', 'racer3@example.com'].map((e) => register(stack, e, { invite: open.token })))
  t.same(race.map((r) => r.status).sort(), [201, 403, 403], 'one invite, one account')
  for (const r of race.filter((x) => x.status === 403)) t.equal(r.json().code, 'INVITE_INVALID')
  t.same(race.find((r) => r.status === 201)!.json().roles, ['member'], 'invited accounts are members')
  const again = await register(stack, 'late@example.com', { invite: open.token })
  t.equal(again.status, 403, 'a used invite is refused')

  const expired = await invite()
  await stack.auth.pg.query("UPDATE auth.invites SET expires_at = now() - interval '1 second' WHERE id = $1", [expired.invite.id])
  t.equal((await register(stack, 'exp@example.com', { invite: expired.token })).status, 403, 'an expired invite is refused')

  const revoked = await invite()
  const del = await asUser(stack, admin, 'DELETE', `/auth/admin/invites/${revoked.invite.id}`)
  t.equal(del.statusCode, 204)
  t.equal((await register(stack, 'rev@example.com', { invite: revoked.token })).status, 403, 'a revoked invite is refused')
  t.equal((await asUser(stack, admin, 'DELETE', `/auth/admin/invites/${revoked.invite.id}`)).statusCode, 404, 'revoking twice: 404')

  const bound = await invite({ email: ' Dana@Example.com ' })
  const wrong = await register(stack, 'mallory@example.com', { invite: bound.token })
  t.equal(wrong.status, 403, 'an invite bound to another address is refused')
  t.notMatch(wrong.text, /dana/i, 'and the answer does not reveal the address')
  t.equal((await register(stack, 'dana@example.com', { invite: bound.token })).status, 201, 'the refused attempt did not use it up')

  // A taken address does not burn the invite either.
  const keep = await invite()
  const taken = await register(stack, 'dana@example.com', { invite: keep.token })
  t.equal(taken.status, 409)
  t.equal((await register(stack, 'erin@example.com', { invite: keep.token })).status, 201)

  t.equal((await register(stack, 'nobody@example.com', { invite: 'A'.repeat(43) })).status, 403, 'a made-up invite is refused')
  t.equal((await register(stack, 'nobody@example.com', { invite: 'short' })).status, 400, 'a malformed invite is a validation error')

  const list = await asUser(stack, admin, 'GET', '/auth/admin/invites')
  t.equal(list.statusCode, 200)
  t.equal(list.json().invites.length, 5, 'all five, used and revoked ones included')
  t.notOk(JSON.stringify(list.json()).includes(open.token), 'the list never shows tokens')
})

test('closed: only the first account registers; invites cannot be made', async (t) => {
  const stack = await startTestStack(t, { auth: { AUTH_REGISTRATION: 'closed' } })
  const admin = await stack.createUser({ email: 'admin@example.com' })
  const r = await register(stack, 'x@example.com')
  t.equal(r.status, 403)
  t.equal(r.json().code, 'REGISTRATION_CLOSED')
  const inv = await asUser(stack, admin, 'POST', '/auth/admin/invites', {})
  t.equal(inv.statusCode, 409)
  t.equal(inv.json().code, 'REGISTRATION_CLOSED')
})
