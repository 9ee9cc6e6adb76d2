import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { PROBLEM_CONTENT_TYPE, REQUEST_ID_HEADER, normalizeRequestPath, redactTokenPaths } from '@palisade/contracts'
import { problemBody, securityHeaders } from '@palisade/platform'
import { HOP } from './headers.js'

/** Response headers every answer carries unless the upstream set its own. */
export const EDGE_SECURITY_HEADERS = securityHeaders('edge')

/** The path as logged: without the query string, which may carry search terms. */
export function logPath(url: string | undefined): string {
  const q = (url ?? '/').indexOf('?')
  // Share-link tokens travel in the path: never into a log line.
  return q === -1 ? redactTokenPaths(url ?? '/') : `${redactTokenPaths(url!.slice(0, q))}?…`
}

export function sendProblem(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  detail: string,
  requestId: string | undefined,
  extra: Record<string, string> = {}
): void {
  if (res.headersSent) return void res.destroy()
  const path = normalizeRequestPath(req.url ?? '') ?? undefined
  const body = JSON.stringify(problemBody(status, code, detail, path))
  res.writeHead(status, {
    ...EDGE_SECURITY_HEADERS,
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}),
    ...extra
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}

/** A whole HTTP/1.1 answer as bytes, for sockets no ServerResponse owns (handshakes, refusals). */
export function rawResponse(status: number, headers: IncomingHttpHeaders | Record<string, string>, body: Buffer): Buffer {
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Unknown'}`]
  const all: Record<string, string | string[] | undefined> = { ...EDGE_SECURITY_HEADERS, ...headers }
  for (const [k, v] of Object.entries(all)) {
    const key = k.toLowerCase()
    if (v === undefined || HOP.has(key) || key === 'content-length') continue
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${String(one).replace(/[\r\n]/g, '')}`)
  }
  lines.push(`content-length: ${body.length}`, 'connection: close')
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body])
}

export function rawProblem(status: number, code: string, detail: string, requestId?: string): Buffer {
  const body = JSON.stringify(problemBody(status, code, detail))
  return rawResponse(
    status,
    { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-store', ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}) },
    Buffer.from(body)
  )
}

export function writeRaw(socket: Duplex, status: number, headers: IncomingHttpHeaders | Record<string, string>, body: Buffer): void {
  if (socket.destroyed || !socket.writable) return
  socket.end(rawResponse(status, headers, body))
}

export function writeRawProblem(socket: Duplex, status: number, code: string, detail: string, requestId?: string): void {
  if (socket.destroyed || !socket.writable) return
  socket.end(rawProblem(status, code, detail, requestId))
}
