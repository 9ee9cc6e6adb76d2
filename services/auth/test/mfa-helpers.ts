import { generate } from 'otplib'
import type { TestUser } from '@palisade/testkit'
import { call, ORIGIN, setCookies, type Answer, type TestStack } from './helpers.js'

/** A request to a forward-authed auth route as the edge relays it (identity headers from /verify). */
export async function asUser(stack: TestStack, user: Pick<TestUser, 'accessToken'>, method: string, url: string, json?: unknown) {
  const headers = await stack.identityHeaders(user, { method, uri: url })
  const res = await stack.auth.inject({ method: method as 'GET', url, headers, ...(json !== undefined ? { payload: json as object } : {}) })
  return { status: res.statusCode, json: () => res.json() }
}

/** The step-up window of a session, moved into the past as if `seconds` had gone by. */
export async function ageAuthentication(stack: TestStack, sessionId: string, seconds = 301): Promise<void> {
  await stack.auth.pg.query('UPDATE auth.sessions SET authenticated_at = now() - make_interval(secs => $2) WHERE id = $1', [sessionId, seconds])
}

/**
 * A TOTP code of `secret`, `steps` time steps away from now. Codes one step off are at the edge of
 * the accepted drift, so near the end of a step this waits for the next one: the server must see
 * the same current step as the code was made for, however loaded the machine.
 */
export async function totp(secret: string, steps = 0): Promise<string> {
  const into = (Date.now() / 1000) % 30
  if (into > 22) await new Promise((r) => setTimeout(r, (30 - into) * 1000 + 200))
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 })
}

/** Enrols an authenticator app for a signed-in user; returns its secret and the recovery codes. */
export async function enrolTotp(stack: TestStack, user: TestUser): Promise<{ secret: string; recoveryCodes: string[] }> {
  const started = await asUser(stack, user, 'POST', '/auth/mfa/totp', {})
  if (started.status !== 200) throw new Error(`enrol: ${started.status}`)
  const { secret } = started.json()
  // Confirmed with the previous step's code, so that the current and the next step are still unspent.
  const confirmed = await asUser(stack, user, 'POST', '/auth/mfa/totp/confirm', { code: await totp(secret, -1) })
  if (confirmed.status !== 200) throw new Error(`confirm: ${confirmed.status}`)
  return { secret, recoveryCodes: confirmed.json().recoveryCodes }
}

export function cookieValue(answer: Answer, name: string): string | undefined {
  const c = setCookies(answer).find((x) => x.startsWith(`${name}=`))
  return c?.split(';')[0]!.slice(name.length + 1)
}

/** The password step; returns the answer and the ticket cookie it set (if any). */
export async function passwordStep(stack: TestStack, user: { email: string; password: string }) {
  const res = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: user.email, password: user.password }, headers: { origin: ORIGIN } })
  return { res, ticket: cookieValue(res, 'palisade_mfa') }
}

export function mfaStep(stack: TestStack, ticket: string | undefined, json: unknown, path = '/auth/login/mfa') {
  const headers: Record<string, string> = { origin: ORIGIN }
  if (ticket) headers.cookie = `palisade_mfa=${ticket}`
  return call(`${stack.authUrl}${path}`, { method: 'POST', json, headers })
}
