import t0, { test } from 'tap'
import type { TestUser } from '@palisade/testkit'
import { call, ORIGIN } from './helpers.js'
import { startTestStack } from './helpers.js'
import { ageAuthentication, asUser, cookieValue, mfaStep, passwordStep } from './mfa-helpers.js'
import { SoftAuthenticator } from './soft-authenticator.js'

const stack = await startTestStack(t0, { auth: { AUTH_WEBAUTHN_ORIGIN: ORIGIN } })

async function addPasskey(u: TestUser, key: SoftAuthenticator, name: string, forge = {}) {
  const { options } = (await asUser(stack, u, 'POST', '/auth/mfa/passkeys/options', {})).json()
  return asUser(stack, u, 'POST', '/auth/mfa/passkeys', { name, credential: key.create(options, forge) })
}

const publicPost = (path: string, json: unknown) => call(`${stack.authUrl}${path}`, { method: 'POST', json, headers: { origin: ORIGIN } })

test('several named passkeys; registration checks origin, RP id and challenge', async (t) => {
  const u = await stack.createUser()
  const laptop = new SoftAuthenticator(ORIGIN)
  const first = await addPasskey(u, laptop, 'Laptop')
  t.equal(first.status, 200)
  t.equal(first.json().passkey.name, 'Laptop')
  t.equal(first.json().recoveryCodes.length, 10, 'first factor: recovery codes')
  const phone = new SoftAuthenticator(ORIGIN)
  const second = await addPasskey(u, phone, 'Phone')
  t.equal(second.status, 200)
  t.same(second.json().recoveryCodes, [], 'later factors keep the codes')
  t.same(
    (await asUser(stack, u, 'GET', '/auth/mfa')).json().passkeys.map((p: { name: string }) => p.name),
    ['Laptop', 'Phone']
  )

  const forged: [string, object][] = [
    ['another origin', { origin: 'https://evil.example' }],
    ['the origin on another port', { origin: 'http://localhost:8081' }],
    ['another RP id', { rpId: 'evil.example' }],
    ['a challenge auth never issued', { challenge: Buffer.from('made-up challenge').toString('base64url') }]
  ]
  for (const [what, forge] of forged) {
    const r = await addPasskey(u, new SoftAuthenticator(ORIGIN), 'Forged', forge)
    t.equal(r.status, 400, what)
    t.equal(r.json().code, 'PASSKEY_REJECTED', what)
  }
  // A challenge answers one ceremony: the same registration sent twice.
  const { options } = (await asUser(stack, u, 'POST', '/auth/mfa/passkeys/options', {})).json()
  const tablet = new SoftAuthenticator(ORIGIN)
  const credential = tablet.create(options)
  t.equal((await asUser(stack, u, 'POST', '/auth/mfa/passkeys', { name: 'Tablet', credential })).status, 200)
  t.equal((await asUser(stack, u, 'POST', '/auth/mfa/passkeys', { name: 'Tablet again', credential })).status, 400, 'challenge reuse')
  // Another user cannot answer this user's challenge.
  const v = await stack.createUser()
  const { options: forU } = (await asUser(stack, u, 'POST', '/auth/mfa/passkeys/options', {})).json()
  const stolen = await asUser(stack, v, 'POST', '/auth/mfa/passkeys', { name: 'Stolen', credential: new SoftAuthenticator(ORIGIN).create(forU) })
  t.equal(stolen.status, 400, "another session's challenge")
  t.equal(Number((await stack.auth.pg.query('SELECT count(*) FROM auth.passkeys')).rows[0].count), 3, 'only the three real ones stored')

  const id = first.json().passkey.id
  t.equal((await asUser(stack, v, 'DELETE', `/auth/mfa/passkeys/${id}`)).status, 404, "someone else's passkey is not found")
  t.equal((await asUser(stack, u, 'DELETE', `/auth/mfa/passkeys/${id}`)).status, 204)
})

test('passkey as second factor: challenge bound to the ticket, used once', async (t) => {
  const u = await stack.createUser()
  const key = new SoftAuthenticator(ORIGIN)
  t.equal((await addPasskey(u, key, 'Key')).status, 200)
  const { res, ticket } = await passwordStep(stack, u)
  t.same(res.json().methods, ['passkey', 'recovery'])
  const { options } = (await mfaStep(stack, ticket, {}, '/auth/login/mfa/passkey-options')).json()
  t.same(
    options.allowCredentials.map((c: { id: string }) => c.id),
    [key.id],
    'the account’s own credentials'
  )
  const wrongOrigin = await mfaStep(stack, ticket, { passkey: key.get(options, { origin: 'https://evil.example' }) })
  t.equal(wrongOrigin.status, 401, 'assertion made for another origin')
  const reuse = await mfaStep(stack, ticket, { passkey: key.get(options) })
  t.equal(reuse.status, 401, 'the challenge died with the first answer, verified or not')

  const { options: fresh } = (await mfaStep(stack, ticket, {}, '/auth/login/mfa/passkey-options')).json()
  const assertion = key.get(fresh)
  const ok = await mfaStep(stack, ticket, { passkey: assertion })
  t.equal(ok.status, 200)
  t.ok(cookieValue(ok, 'palisade_access'))
  const next = await passwordStep(stack, u)
  t.equal((await mfaStep(stack, next.ticket, { passkey: assertion })).status, 401, 'a recorded assertion cannot be replayed')
})

test('passkey-only sign-in with a discoverable credential', async (t) => {
  const u = await stack.createUser()
  const key = new SoftAuthenticator(ORIGIN)
  t.equal((await addPasskey(u, key, 'Key')).status, 200)
  const { options } = (await publicPost('/auth/login/passkey/options', {})).json()
  t.equal(options.userVerification, 'required')
  t.same(options.allowCredentials ?? [], [], 'discoverable: no credential list')
  const noUv = await publicPost('/auth/login/passkey', { credential: key.get(options, { userVerified: false }) })
  t.equal(noUv.status, 401, 'without user verification a passkey is one factor only')
  const { options: o2 } = (await publicPost('/auth/login/passkey/options', {})).json()
  const assertion = key.get(o2)
  const ok = await publicPost('/auth/login/passkey', { credential: assertion })
  t.equal(ok.status, 200)
  t.equal(ok.json().user.id, u.userId)
  t.equal((await publicPost('/auth/login/passkey', { credential: assertion })).status, 401, 'challenge reuse')
  const { options: o3 } = (await publicPost('/auth/login/passkey/options', {})).json()
  const stranger = new SoftAuthenticator(ORIGIN)
  stranger.userHandle = key.userHandle
  t.equal((await publicPost('/auth/login/passkey', { credential: stranger.get(o3) })).status, 401, 'an unknown credential claiming the user')
  const { options: o4 } = (await publicPost('/auth/login/passkey/options', {})).json()
  t.equal((await publicPost('/auth/login/passkey', { credential: key.get(o4, { rpId: 'evil.example' }) })).status, 401, 'another RP id')

  // A challenge for passkey-only sign-in does not re-authenticate a session.
  await ageAuthentication(stack, u.sessionId)
  const { options: o5 } = (await publicPost('/auth/login/passkey/options', {})).json()
  t.equal((await asUser(stack, u, 'POST', '/auth/reauth', { passkey: key.get(o5) })).status, 403, 'challenge issued for another purpose')
  const { options: o6 } = (await asUser(stack, u, 'POST', '/auth/reauth/passkey-options', {})).json()
  t.equal((await asUser(stack, u, 'POST', '/auth/reauth', { passkey: key.get(o6) })).status, 200, 'passkey re-authentication')
})
