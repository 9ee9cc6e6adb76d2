import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { Pool } from 'undici'
import { IDENTITY_HEADER_NAMES, REQUEST_ID_HEADER } from '@palisade/contracts'
import { hopHeaders } from './headers.js'
import { UpstreamPool, cutOff, notDelivered } from './balancer.js'

export interface AuthAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

const EMPTY = Buffer.alloc(0)
const MAX_DENIAL_BODY = 64 * 1024
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export interface Verifier {
  /** GET /auth/verify with the original headers (minus hop-by-hop), X-Forwarded-* rebuilt, no body. */
  verify(req: IncomingMessage, requestId: string): Promise<AuthAnswer>
  close(): Promise<void>
}

/**
 * Asks auth's /verify; with several URLs (auth instances) round-robin, and a verify that could not
 * reach an instance or was cut off is asked of the next (it is a GET: repeating it is harmless).
 */
export function createVerifier(authVerifyUrl: string | readonly string[], timeoutMs: number, proto: 'http' | 'https', downMs?: number): Verifier {
  const urls = (typeof authVerifyUrl === 'string' ? [authVerifyUrl] : authVerifyUrl).map((u) => new URL(u))
  // The auth sub-request runs on every forward-authed request: undici's pool (keep-alive,
  // pipelining off) costs a fraction of node:http's client per call.
  const clients = new Map(urls.map((u) => [u, new Pool(u.origin, { connections: 256, keepAliveTimeout: 30_000 })]))
  const balancer = new UpstreamPool(urls, downMs)
  const ask = async (headers: Record<string, string | string[]>) => {
    const tried = new Set<URL>()
    for (;;) {
      const url = balancer.pick(tried)!
      tried.add(url)
      try {
        return await clients.get(url)!.request({ path: url.pathname + url.search, method: 'GET', headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
      } catch (err) {
        const refused = notDelivered(err)
        if (refused) balancer.markDown(url)
        if (tried.size >= balancer.size || !(refused || cutOff(err))) throw err
      }
    }
  }
  return {
    async verify(req, requestId) {
      // Which headers a client's Connection header may drop is decided by `hopHeaders`: never
      // credentials, Origin or the forwarding headers set below.
      const hop = hopHeaders(req.headers)
      const headers: Record<string, string | string[]> = {}
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined || hop.has(k) || k === 'content-length' || k === 'host' || k === 'expect') continue
        headers[k] = v
      }
      headers['x-forwarded-method'] = req.method ?? 'GET'
      headers['x-forwarded-proto'] = proto
      headers['x-forwarded-host'] = req.headers.host ?? ''
      headers['x-forwarded-uri'] = req.url ?? '/'
      headers['x-forwarded-for'] = req.socket.remoteAddress ?? ''
      headers[REQUEST_ID_HEADER] = requestId
      const res = await ask(headers)
      const status = res.statusCode
      const h = res.headers as IncomingHttpHeaders
      if (status >= 200 && status < 300) {
        await res.body.dump()
        return { status, headers: h, body: EMPTY }
      }
      const chunks: Buffer[] = []
      let size = 0
      for await (const c of res.body) {
        size += (c as Buffer).length
        if (size <= MAX_DENIAL_BODY) chunks.push(c as Buffer)
      }
      return { status, headers: h, body: Buffer.concat(chunks) }
    },
    close: async () => {
      await Promise.all([...clients.values()].map((c) => c.close()))
    }
  }
}

/** Auth said yes: its identity headers onto the request; returns auth's request id if it set one. */
export function applyIdentity(req: IncomingMessage, answer: AuthAnswer): string | undefined {
  for (const name of IDENTITY_HEADER_NAMES) {
    const v = answer.headers[name]
    if (typeof v === 'string') req.headers[name] = v
  }
  const rid = answer.headers[REQUEST_ID_HEADER]
  return typeof rid === 'string' && REQUEST_ID.test(rid) ? rid : undefined
}
