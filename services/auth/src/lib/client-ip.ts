import { isIP } from 'node:net'
import type { FastifyRequest } from 'fastify'

function plain(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip
}

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
