import http from 'node:http'
import https from 'node:https'
import { connect } from 'node:net'
import { randomBytes } from 'node:crypto'

/** What a TCP connect attempt saw: only `open` means something answered. */
export type TcpOutcome = 'open' | 'refused' | 'timeout' | 'unreachable' | 'no-such-host' | 'error'

export function tcpProbe(host: string, port: number, timeoutMs = 1000): Promise<TcpOutcome> {
  return new Promise((resolve) => {
    const s = connect({ host, port })
    const done = (o: TcpOutcome) => {
      clearTimeout(timer)
      s.destroy()
      resolve(o)
    }
    const timer = setTimeout(() => done('timeout'), timeoutMs)
    s.once('connect', () => done('open'))
    s.once('error', (err: NodeJS.ErrnoException) => {
      const c = err.code ?? ''
      done(
        c === 'ECONNREFUSED'
          ? 'refused'
          : c === 'ENETUNREACH' || c === 'EHOSTUNREACH'
            ? 'unreachable'
            : c === 'ENOTFOUND' || c === 'EAI_AGAIN'
              ? 'no-such-host'
              : 'error'
      )
    })
  })
}

export interface HttpAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

export interface HttpOptions {
  method?: string
  headers?: Record<string, string>
  body?: string
  insecureTls?: boolean
  timeoutMs?: number
}

/**
 * One HTTP request with node:http, so header names go out exactly as spelled (fetch would reject or
 * fold some). A network failure resolves to status 0 with the error in `body`.
 */
export function httpRequest(url: string, opts: HttpOptions = {}): Promise<HttpAnswer> {
  const u = new URL(url)
  const mod = u.protocol === 'https:' ? https : http
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body))
    const req = mod.request(
      u,
      {
        method: opts.method ?? 'GET',
        headers,
        agent: false,
        ...(u.protocol === 'https:' ? { rejectUnauthorized: !opts.insecureTls } : {}),
        timeout: opts.timeoutMs ?? 5000
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', (err) => resolve({ status: 0, headers: {}, body: err.message }))
      }
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim() }))
    req.end(opts.body)
  })
}

/** A WebSocket handshake: the status the server answered (101 when it upgraded), 0 on network failure. */
export function wsHandshake(url: string, headers: Record<string, string>, opts: { insecureTls?: boolean; timeoutMs?: number } = {}): Promise<number> {
  const u = new URL(url.replace(/^ws/, 'http'))
  const mod = u.protocol === 'https:' ? https : http
  return new Promise((resolve) => {
    const req = mod.request(u, {
      method: 'GET',
      agent: false,
      timeout: opts.timeoutMs ?? 5000,
      ...(u.protocol === 'https:' ? { rejectUnauthorized: !opts.insecureTls } : {}),
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers
      }
    })
    req.on('upgrade', (res, socket) => {
      socket.destroy()
      resolve(res.statusCode ?? 101)
    })
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(0))
    req.end()
  })
}

export function cookieFrom(setCookie: string | string[] | undefined, name: string): string | undefined {
  for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    const pair = c.split(';')[0]!
    if (pair.startsWith(`${name}=`)) return pair
  }
  return undefined
}
