import { isIP } from 'node:net'
import type { FastifyRequest } from 'fastify'
import { plainAddress as plain } from '@palisade/platform'

// The limit key is shared with the edge's per-address connection cap: one implementation.
export { ipLimitKey } from '@palisade/platform'

/**
 * The client's address: the socket peer, unless the peer is a configured proxy, in which case the
 * address that proxy appended to X-Forwarded-For (its rightmost entry; the edge rebuilds it).
 */
export function clientIp(request: FastifyRequest, trustedProxies: ReadonlySet<string>): string {
  const peer = plain(request.socket.remoteAddress ?? request.ip)
  if (trustedProxies.size === 0 || !trustedProxies.has(peer)) return peer
  const xff = request.headers['x-forwarded-for']
  const raw = Array.isArray(xff) ? xff[xff.length - 1] : xff
  const last = raw?.split(',').pop()?.trim()
  return last && isIP(last) ? plain(last) : peer
}
