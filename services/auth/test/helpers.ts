import http from 'node:http'
import jwt from 'jsonwebtoken'
import type { FastifyInstance } from 'fastify'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { startTestStack as startKitStack, type InProcessTestStack, type StartTestStackOptions, type TeardownHost } from '@palisade/testkit'
import { AuthSessionRevoked, type SessionRevokedEvent } from '@palisade/contracts'
import { signingKeyFromPem, type SigningKey } from '@palisade/platform'
import authApp, { type AuthConfig } from '../src/app.js'

export type TestStack = InProcessTestStack<AuthConfig>

/** testkit's stack with this auth in-process: these tests inject into it and read its tables. */
export function startTestStack(t: TeardownHost, opts: StartTestStackOptions<AuthConfig> = {}): Promise<TestStack> {
  return startKitStack(t, { ...opts, authApp })
}

export const ORIGIN = 'http://localhost:8080'

export interface Answer {
  status: number
  headers: Headers
  text: string
  json(): any
}

export async function call(url: string, init: RequestInit & { json?: unknown } = {}): Promise<Answer> {
  const headers = new Headers(init.headers)
  let body = init.body
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json')
    body = JSON.stringify(init.json)
  }
  const res = await fetch(url, { ...init, headers, body: body ?? null, redirect: 'manual' })
  const text = await res.text()
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) }
}

/** What the edge sends to /auth/verify for an original request. */
export function forwarded(method: string, uri: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'x-forwarded-method': method,
    'x-forwarded-uri': uri,
    'x-forwarded-host': 'localhost:8080',
    'x-forwarded-proto': 'http',
    'x-forwarded-for': '203.0.113.7',
    ...extra
  }
}

/**
 * GET /auth/verify through inject: fetch() would rewrite Sec-Fetch-Mode and refuse Upgrade, both
 * of which the proxy relays as the browser sent them.
 */
export async function verifyAt(app: FastifyInstance, headers: Record<string, string>): Promise<Answer> {
  const res = await app.inject({ method: 'GET', url: '/auth/verify', headers })
  const h = new Headers()
  for (const [k, v] of Object.entries(res.headers)) {
    if (Array.isArray(v)) for (const x of v) h.append(k, String(x))
    else if (v !== undefined) h.set(k, String(v))
  }
  return { status: res.statusCode, headers: h, text: res.body, json: () => JSON.parse(res.body) }
}

export function signerOf(stack: TestStack): SigningKey {
  return signingKeyFromPem(stack.authConfig.AUTH_SIGNING_KEYS!.match(/-----BEGIN[\s\S]+?-----END [A-Z ]+-----/)![0])
}

export function decodeJwt(token: string): { header: jwt.JwtHeader; payload: Record<string, unknown> } {
  const d = jwt.decode(token, { complete: true })
  if (!d || typeof d.payload === 'string') throw new Error('not a JWT')
  return { header: d.header, payload: d.payload as Record<string, unknown> }
}

export function setCookies(answer: Answer): string[] {
  return answer.headers.getSetCookie()
}

/** Subscribes to auth.session.revoked on the stack's NATS and keeps every event. */
export async function revocationEvents(
  stack: TestStack,
  t: { teardown(fn: () => unknown): void }
): Promise<{ events: SessionRevokedEvent[]; nc: NatsConnection }> {
  const nc = await connect({ servers: stack.natsUrl })
  t.teardown(() => nc.close())
  const events: SessionRevokedEvent[] = []
  const sub = nc.subscribe(AuthSessionRevoked.subject)
  void (async () => {
    for await (const m of sub) events.push(m.json())
  })()
  await nc.flush()
  return { events, nc }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await cond()) return true
    await new Promise((r) => setTimeout(r, 10))
  }
  return cond()
}

/**
 * A JSON POST over a fresh socket bound to `from` (any 127.0.0.0/8 address is local on Linux): the
 * server sees a different peer for each `from`, as it would for different machines.
 */
export function postFrom(from: string, url: string, json: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const body = JSON.stringify(json)
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        localAddress: from,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers }
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('end', () => {
          const h = new Headers()
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v)
          resolve({ status: res.statusCode ?? 0, headers: h, text, json: () => JSON.parse(text) })
        })
      }
    )
    req.on('error', reject)
    req.end(body)
  })
}
