/**
 * The isolation probes from the client network and the edge-facing ones from the internal network;
 * the NATS and PostgreSQL probes have modules of their own (probe-nats.ts, probe-postgres.ts).
 */
import { randomBytes, randomUUID, sign } from 'node:crypto'
import { AUTH_COOKIES, IDENTITY_HEADERS } from '@palisade/contracts'
import { signingKeyFromPem } from '@palisade/platform'
import { cookieFrom, httpRequest, tcpProbe, wsHandshake, type HttpAnswer } from './net.js'
import { probeNats } from './probe-nats.js'
import { probePostgres } from './probe-postgres.js'
import { check, probeResult, timed } from './report.js'
import { secretValue } from './secret-value.js'
import type { AttackerTargets, ClientTargets, ProbeResult, ProbeState } from './types.js'

const PROBE_PASSWORD = () => `isolation-probe-${randomBytes(12).toString('base64url')}`
const FOREIGN_ORIGIN = 'https://attacker.invalid'

const statusOf = (a: HttpAnswer) => (a.status === 0 ? `no answer (${a.body})` : String(a.status))

/** Registers and logs in a throwaway user; returns its cookie, id and session. */
export async function probeUser(
  baseUrl: string,
  origin: string,
  insecureTls = false
): Promise<{ cookie: string; userId: string; sessionId: string; accessToken: string }> {
  const email = `probe-${randomUUID()}@isolation.palisade.example`
  const password = PROBE_PASSWORD()
  const json = { 'content-type': 'application/json', accept: 'application/json', origin }
  const reg = await httpRequest(`${baseUrl}/auth/register`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password, displayName: 'Isolation probe' }),
    insecureTls
  })
  if (reg.status !== 201) throw new Error(`registering a probe user answered ${statusOf(reg)} ${reg.body.slice(0, 200)}`)
  const login = await httpRequest(`${baseUrl}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password }), insecureTls })
  if (login.status !== 200) throw new Error(`logging the probe user in answered ${statusOf(login)}`)
  const cookie = cookieFrom(login.headers['set-cookie'], AUTH_COOKIES.access)
  if (!cookie) throw new Error('login set no access cookie')
  const body = JSON.parse(login.body) as { user: { id: string }; sessionId: string; accessToken: string }
  return { cookie, userId: body.user.id, sessionId: body.sessionId, accessToken: body.accessToken }
}

/** The ways a client may spell a header name; only the first is what services read. */
export function headerSpellings(canonical: string): string[] {
  const title = canonical
    .split('-')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('-')
  return [title, canonical, title.replace(/-/g, '_'), canonical.replace(/-/g, '_'), title.replace(/-/g, '.')]
}

// ───────────────────────────── from the client network ─────────────────────────────

export async function probeOnlyEdgeAnswers(t: ClientTargets): Promise<ProbeResult> {
  return timed(
    1,
    'only the edge answers on the public network',
    'edge answers HTTP; every service, NATS and PostgreSQL address refused or timed out within 1 s',
    async (checks) => {
      const edge = await httpRequest(`${t.edgeUrl}/login`, { insecureTls: t.insecureTls ?? false, timeoutMs: 3000 })
      checks.push(check(`edge ${t.edgeUrl} answers`, 'an HTTP status', statusOf(edge), edge.status > 0))
      const outcomes = await Promise.all(t.mustBeUnreachable.map(async (h) => ({ h, o: await tcpProbe(h.host, h.port, 1000) })))
      for (const { h, o } of outcomes) checks.push(check(`${h.name} ${h.host}:${h.port} unreachable`, 'not open', o, o !== 'open'))
    }
  )
}

export async function probeIdentitySpoofing(t: ClientTargets, state: ProbeState | undefined): Promise<{ result: ProbeResult; cookie?: string }> {
  let cookie: string | undefined
  const result = await timed(
    2,
    'client-sent identity headers never reach a service',
    'with a session the service acts for the real user; without one 401 — whatever X-Authenticated-* spelling the client adds',
    async (checks) => {
      const tls = t.insecureTls ?? false
      const actor = await probeUser(t.edgeUrl, t.origin, tls)
      cookie = actor.cookie
      // The forged identity is a real other user's, with a real (leaked) assertion for the target
      // service: only the proxy's header handling stands between it and the service.
      const victim = state?.victim
      const forgedUser = victim?.userId ?? randomUUID()
      const forged = (aud: string) => ({
        [IDENTITY_HEADERS.user]: forgedUser,
        [IDENTITY_HEADERS.session]: victim?.sessionId ?? randomUUID(),
        [IDENTITY_HEADERS.assertion]: victim?.assertions[aud] ?? 'eyJhbGciOiJFUzI1NiJ9.e30.invalid'
      })
      if (!victim) checks.push(check('a real victim identity from the attacker phase', 'present', 'absent (forging random ids only)', false))
      const variants = headerSpellings(IDENTITY_HEADERS.user).map((_, i) => i)
      for (const i of variants) {
        const spelled = (aud: string) => Object.fromEntries(Object.entries(forged(aud)).map(([k, v]) => [headerSpellings(k)[i]!, v]))
        const name = headerSpellings(IDENTITY_HEADERS.user)[i]!
        const me = await httpRequest(`${t.edgeUrl}/auth/me`, {
          headers: { accept: 'application/json', cookie: actor.cookie, ...spelled('auth') },
          insecureTls: tls
        })
        let actsAs = ''
        try {
          actsAs = (JSON.parse(me.body) as { id?: string }).id ?? ''
        } catch {}
        const who = actsAs === actor.userId ? 'the real user' : actsAs === forgedUser ? 'THE FORGED USER' : actsAs || 'nobody'
        checks.push(
          check(
            `/auth/me with session + forged ${name}`,
            '200 as the real user, or 401',
            `${statusOf(me)} as ${who}`,
            (me.status === 200 && actsAs === actor.userId) || me.status === 401
          )
        )
        const anonMe = await httpRequest(`${t.edgeUrl}/auth/me`, { headers: { accept: 'application/json', ...spelled('auth') }, insecureTls: tls })
        checks.push(check(`/auth/me without session, forged ${name}`, '401', statusOf(anonMe), anonMe.status === 401))
        const chat = await httpRequest(`${t.edgeUrl}/api/chat/conversations`, { headers: { accept: 'application/json', ...spelled('chat') }, insecureTls: tls })
        checks.push(check(`/api/chat without session, forged ${name}`, '401', statusOf(chat), chat.status === 401))
        if (victim?.conversationId) {
          const list = await httpRequest(`${t.edgeUrl}/api/chat/conversations`, {
            headers: { accept: 'application/json', cookie: actor.cookie, ...spelled('chat') },
            insecureTls: tls
          })
          const leaked = list.body.includes(victim.conversationId)
          checks.push(
            check(
              `/api/chat with session + forged ${name}`,
              "the real user's data, or 401",
              leaked ? `${list.status} with THE FORGED USER's conversation` : statusOf(list),
              !leaked && (list.status === 200 || list.status === 401)
            )
          )
        }
      }
    }
  )
  return { result, ...(cookie ? { cookie } : {}) }
}

export async function probeEdgeAnswers(t: ClientTargets, cookie: string | undefined): Promise<ProbeResult> {
  return timed(
    3,
    'the edge denies what it must',
    'API 401 problem+json, HTML 302 /login, WS without session 401, WS foreign Origin 403, internal paths 404',
    async (checks) => {
      const tls = t.insecureTls ?? false
      const api = await httpRequest(`${t.edgeUrl}/api/chat/conversations`, { headers: { accept: 'application/json' }, insecureTls: tls })
      const ct = String(api.headers['content-type'] ?? '')
      checks.push(
        check(
          'unauthenticated API request',
          '401 application/problem+json',
          `${statusOf(api)} ${ct}`,
          api.status === 401 && ct.startsWith('application/problem+json')
        )
      )
      const nav = await httpRequest(`${t.edgeUrl}/`, {
        headers: { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
        insecureTls: tls
      })
      const loc = String(nav.headers.location ?? '')
      checks.push(check('HTML navigation without session', '302 → /login', `${statusOf(nav)} ${loc}`, nav.status === 302 && loc.startsWith('/login')))
      const ws = `${t.edgeUrl.replace(/^http/, 'ws')}/ws`
      const anon = await wsHandshake(ws, { origin: t.origin }, { insecureTls: tls })
      checks.push(check('WebSocket handshake without session', '401', String(anon), anon === 401))
      if (cookie) {
        const foreign = await wsHandshake(ws, { origin: FOREIGN_ORIGIN, cookie }, { insecureTls: tls })
        checks.push(check('WebSocket handshake with session, foreign Origin', '403', String(foreign), foreign === 403))
      } else checks.push(check('WebSocket handshake with session, foreign Origin', '403', 'no session (probe user could not be created)', false))
      for (const path of ['/auth/verify', '/auth/jwks', '/.well-known/jwks.json', '/healthz', '/readyz']) {
        const r = await httpRequest(`${t.edgeUrl}${path}`, { headers: { accept: 'application/json', ...(cookie ? { cookie } : {}) }, insecureTls: tls })
        checks.push(check(`internal path ${path}`, '404', statusOf(r), r.status === 404))
      }
    }
  )
}

export async function runClientProbes(t: ClientTargets, state: ProbeState | undefined): Promise<ProbeResult[]> {
  const p1 = await probeOnlyEdgeAnswers(t)
  const p2 = await probeIdentitySpoofing(t, state)
  const p3 = await probeEdgeAnswers(t, p2.cookie)
  return [p1, p2.result, p3]
}

// ───────────────────────────── from a compromised sibling ─────────────────────────────

/** Where each service requires an identity (any route behind the assertion check will do). */
const PROTECTED_PATH: Record<string, { path: string; ws?: boolean }> = {
  chat: { path: '/api/chat/conversations' },
  files: { path: '/api/files/00000000-0000-4000-8000-000000000000' },
  agents: { path: '/api/agents' },
  gateway: { path: '/ws', ws: true },
  auth: { path: '/auth/me' }
}

function b64url(v: object | Buffer): string {
  return (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url')
}

/** A correctly signed assertion with the claims of a real one, moved `shiftSeconds` into the past. */
export function expiredCopy(realAssertion: string, pem: string, shiftSeconds = 600): string {
  const key = signingKeyFromPem(pem)
  const [, payload] = realAssertion.split('.')
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown> & { iat: number; exp: number }
  const moved = { ...claims, iat: claims.iat - shiftSeconds, exp: claims.exp - shiftSeconds, jti: randomUUID() }
  const input = `${b64url({ alg: 'ES256', typ: 'JWT', kid: key.kid })}.${b64url(moved)}`
  return `${input}.${b64url(sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }))}`
}

/** Attacker set-up: a victim user created directly at auth, and its assertions read from /auth/verify. */
export async function victimIdentity(t: AttackerTargets): Promise<ProbeState> {
  const v = await probeUser(t.authUrl, t.origin)
  const assertions: Record<string, string> = {}
  for (const [aud, { path }] of Object.entries(PROTECTED_PATH)) {
    const r = await httpRequest(`${t.authUrl}/auth/verify`, {
      headers: {
        cookie: v.cookie,
        origin: t.origin,
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': path,
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'isolation'
      }
    })
    const a = r.headers[IDENTITY_HEADERS.assertion]
    if (r.status === 200 && typeof a === 'string') assertions[aud] = a
  }
  const state: ProbeState = { victim: { userId: v.userId, sessionId: v.sessionId, assertions } }
  // Something only the victim can see, so probe 2 notices a service acting for the victim.
  const chatUrl = t.services.chat
  if (chatUrl && assertions.chat) {
    const r = await httpRequest(`${chatUrl}/api/chat/conversations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        origin: t.origin,
        [IDENTITY_HEADERS.user]: v.userId,
        [IDENTITY_HEADERS.session]: v.sessionId,
        [IDENTITY_HEADERS.assertion]: assertions.chat
      },
      body: JSON.stringify({ title: 'isolation probe victim' })
    })
    try {
      if (r.status === 201 || r.status === 200) state.victim.conversationId = (JSON.parse(r.body) as { id: string }).id
    } catch {}
  }
  return state
}

export async function probeForgedIdentity(t: AttackerTargets, state: ProbeState): Promise<ProbeResult> {
  return timed(
    4,
    'services refuse forged identities from the internal network',
    'forged X-Authenticated-User with no, an invalid, a wrong-audience or an expired assertion → 401 (a valid one is accepted: control)',
    async (checks) => {
      const v = state.victim
      const key = t.signingKey ? secretValue(t.signingKey) : undefined
      for (const service of ['chat', 'files', 'agents', 'gateway']) {
        const base = t.services[service]
        const where = PROTECTED_PATH[service]!
        if (!base) continue
        const call = async (assertion: string | undefined): Promise<string> => {
          const headers: Record<string, string> = {
            accept: 'application/json',
            origin: t.origin,
            [IDENTITY_HEADERS.user]: v.userId,
            [IDENTITY_HEADERS.session]: v.sessionId,
            ...(assertion ? { [IDENTITY_HEADERS.assertion]: assertion } : {})
          }
          if (where.ws) return String(await wsHandshake(base.replace(/^http/, 'ws') + where.path, headers))
          return statusOf(await httpRequest(base + where.path, { headers }))
        }
        const own = v.assertions[service]
        const other = v.assertions[service === 'chat' ? 'files' : 'chat'] ?? v.assertions.auth
        const cases: [string, string | undefined][] = [
          ['no assertion', undefined],
          ['an invalid assertion', 'eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJ4In0.AAAA'],
          ['an assertion for another service (wrong aud)', other]
        ]
        if (own && key) cases.push(['an expired assertion', expiredCopy(own, key)])
        for (const [label, assertion] of cases) {
          if (label !== 'no assertion' && !assertion) {
            checks.push(check(`${service}: forged user, ${label}`, '401', 'could not obtain one from auth', false))
            continue
          }
          const got = await call(assertion)
          checks.push(check(`${service}: forged user, ${label}`, '401', got, got === '401'))
        }
        if (own) {
          const got = await call(own)
          checks.push(check(`${service}: control, valid assertion`, 'accepted (not 401)', got, got !== '401' && got !== '0' && !got.startsWith('no answer')))
        } else checks.push(check(`${service}: control, valid assertion`, 'accepted (not 401)', 'auth issued none', false))
        if (!key) checks.push(check(`${service}: forged user, an expired assertion`, '401', 'not run: no signing key in the targets', false))
      }
    }
  )
}

export async function probeEgress(t: AttackerTargets): Promise<ProbeResult> {
  return timed(7, 'no egress from the internal network', 'connections to the client network refused or timed out', async (checks) => {
    const outcomes = await Promise.all(t.egress.map(async (h) => ({ h, o: await tcpProbe(h.host, h.port, 1000) })))
    for (const { h, o } of outcomes) checks.push(check(`${h.name} ${h.host}:${h.port}`, 'not open', o, o !== 'open'))
  })
}

export async function runAttackerProbes(t: AttackerTargets): Promise<{ results: ProbeResult[]; state: ProbeState | undefined }> {
  let state: ProbeState | undefined
  let setupError = ''
  try {
    state = await victimIdentity(t)
  } catch (err) {
    setupError = (err as Error).message
  }
  const p4 = state
    ? await probeForgedIdentity(t, state)
    : probeResult(4, 'services refuse forged identities from the internal network', 'a victim user to forge', [
        check('create the victim user at auth', 'created', setupError, false)
      ])
  return { results: [p4, await probeNats(t), await probePostgres(t), await probeEgress(t)], state }
}
