import type { IncomingHttpHeaders } from 'node:http'
import { HOP_BY_HOP_HEADERS, canonicalHeaderName, isProtectedHeader } from '@palisade/contracts'

/** The fixed hop-by-hop headers (RFC 9110 §7.6.1) plus two that only ever mean something to one hop. */
export const HOP = new Set<string>([...HOP_BY_HOP_HEADERS, 'proxy-connection', 'http2-settings'])

/**
 * End-to-end headers a client may not declare hop-by-hop: the ones auth decides with (credentials,
 * Origin, the Fetch metadata and WebSocket handshake headers), the ones the edge and auth stamp
 * (identity, forwarding, request id) in every spelling, and the framing of the message itself.
 * Otherwise `Connection: close, Origin` would hide Origin from /auth/verify, and a hop that honours
 * the list after the edge would delete the identity or X-Forwarded-For the edge set
 * (CVE-2024-45410 is this bug in Traefik).
 */
const NEVER_HOP_BY_HOP = new Set(['origin', 'cookie', 'authorization', 'host', 'content-length', 'content-type', 'accept', 'x-request-id'])

export function mayBeHopByHop(name: string): boolean {
  const c = canonicalHeaderName(name)
  return !(NEVER_HOP_BY_HOP.has(c) || c.startsWith('sec-') || isProtectedHeader(c))
}

/** Hop-by-hop headers of a message: the fixed list plus what its Connection header may name. */
export function hopHeaders(headers: IncomingHttpHeaders): Set<string> {
  const c = headers.connection
  if (!c) return HOP
  const extra = (Array.isArray(c) ? c.join(',') : c)
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '' && !HOP.has(s) && mayBeHopByHop(s))
  return extra.length === 0 ? HOP : new Set([...HOP, ...extra])
}

/** Deletes every client copy of a protected header (identity, forwarding) in any spelling. */
export function scrubProtectedHeaders(headers: IncomingHttpHeaders): void {
  for (const name of Object.keys(headers)) if (isProtectedHeader(name)) delete headers[name]
}

/**
 * Headers of the upstream request: the client's minus every hop-by-hop one (the Connection header
 * included, so no later hop can be told to drop anything). A WebSocket handshake keeps exactly
 * `Connection: upgrade` and its Upgrade; a streamed chunked body keeps its Transfer-Encoding.
 */
export function stripHopByHop(headers: IncomingHttpHeaders, keep: { upgrade?: boolean; chunked?: boolean } = {}): void {
  const upgrade = headers.upgrade
  const te = headers['transfer-encoding']
  for (const name of hopHeaders(headers)) delete headers[name]
  if (keep.upgrade && upgrade !== undefined) {
    headers.connection = 'upgrade'
    headers.upgrade = upgrade
  }
  if (keep.chunked && te !== undefined) headers['transfer-encoding'] = te
}
