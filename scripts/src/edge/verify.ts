import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { Pool } from 'undici'
import { IDENTITY_HEADER_NAMES, REQUEST_ID_HEADER } from '@palisade/contracts'
import { hopHeaders } from './headers.js'

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

export function createVerifier(authVerifyUrl: string, timeoutMs: number, proto: 'http' | 'https'): Verifier {
  const authUrl = new URL(authVerifyUrl)
  // The auth sub-request runs on every forward-authed request: undici's pool (keep-alive,
  // pipelining off) costs a fraction of node:http's client per call.
  const pool = new Pool(authUrl.origin, { connections: 256, keepAliveTimeout: 30_000 })
  const path = authUrl.pathname + authUrl.search
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
      const res = await pool.request({ path, method: 'GET', headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
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
    close: () => pool.close()
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
