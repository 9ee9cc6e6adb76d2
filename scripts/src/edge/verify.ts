import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { Pool, type Dispatcher } from 'undici'
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
  // pipelining off) costs a fraction of node:http's client per call, and `dispatch` with a
  // handler of our own skips the response stream and header object `request` builds for it.
  const clients = new Map(urls.map((u) => [u, new Pool(u.origin, { connections: 256, keepAliveTimeout: 30_000 })]))
  const balancer = new UpstreamPool(urls, downMs)
  const ask = async (headers: Record<string, string | string[]>): Promise<AuthAnswer> => {
    const tried = new Set<URL>()
    for (;;) {
      const url = balancer.pick(tried)!
      tried.add(url)
      try {
        return await new Promise<AuthAnswer>((resolve, reject) => {
          clients
            .get(url)!
            .dispatch(
              { path: url.pathname + url.search, method: 'GET', headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
              new VerifyCall(resolve, reject)
            )
        })
      } catch (err) {
        const refused = notDelivered(err)
        if (refused) balancer.markDown(url)
        if (tried.size >= balancer.size || !(refused || cutOff(err))) throw err
      }
    }
  }
  return {
    verify(req, requestId) {
      // Which headers a client's Connection header may drop is decided by `hopHeaders`: never
      // credentials, Origin or the forwarding headers set below.
      const hop = hopHeaders(req.headers)
      const headers: Record<string, string | string[]> = {}
      const incoming = req.headers
      for (const k in incoming) {
        const v = incoming[k]
        if (v === undefined || hop.has(k) || k === 'content-length' || k === 'host' || k === 'expect') continue
        headers[k] = v
      }
      headers['x-forwarded-method'] = req.method ?? 'GET'
      headers['x-forwarded-proto'] = proto
      headers['x-forwarded-host'] = incoming.host ?? ''
      headers['x-forwarded-uri'] = req.url ?? '/'
      headers['x-forwarded-for'] = req.socket.remoteAddress ?? ''
      headers[REQUEST_ID_HEADER] = requestId
      return ask(headers)
    },
    close: async () => {
      await Promise.all([...clients.values()].map((c) => c.close()))
    }
  }
}

/** Headers of a 2xx answer the edge uses (applyIdentity); a denial's are all relayed. */
const ALLOW_HEADERS = new Set([...IDENTITY_HEADER_NAMES, REQUEST_ID_HEADER])

/**
 * One /verify call. A 2xx answer has no body worth reading (it is discarded as it arrives) and
 * only its identity headers are kept; a denial is kept whole (up to MAX_DENIAL_BODY) for the client.
 */
class VerifyCall implements Dispatcher.DispatchHandlers {
  private status = 0
  private headers: IncomingHttpHeaders = {}
  private chunks: Buffer[] = []
  private size = 0

  constructor(
    private readonly resolve: (answer: AuthAnswer) => void,
    private readonly reject: (err: Error) => void
  ) {}

  onConnect(): void {}

  onHeaders(status: number, raw: Buffer[]): boolean {
    if (status < 200) return true
    this.status = status
    const allowed = status < 300
    const headers = this.headers
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1').toLowerCase()
      if (allowed && !ALLOW_HEADERS.has(name)) continue
      const value = raw[i + 1]!.toString('latin1')
      const had = headers[name]
      headers[name] = had === undefined ? (name === 'set-cookie' ? [value] : value) : Array.isArray(had) ? [...had, value] : [had, value]
    }
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.status >= 300 || this.status < 200) {
      this.size += chunk.length
      if (this.size <= MAX_DENIAL_BODY) this.chunks.push(chunk)
    }
    return true
  }

  onComplete(): void {
    const body = this.chunks.length === 0 ? EMPTY : Buffer.concat(this.chunks)
    this.resolve({ status: this.status, headers: this.headers, body })
  }

  onError(err: Error): void {
    this.reject(err)
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
