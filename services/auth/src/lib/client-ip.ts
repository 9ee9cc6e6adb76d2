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

/**
 * The unit an address-based limit counts: the address itself for IPv4, its /64 for IPv6 (one
 * subscriber usually holds a whole /64, so counting single IPv6 addresses would be no limit).
 */
export function ipLimitKey(ip: string): string {
  if (isIP(ip) !== 6) return ip
  const [head = '', tail = ''] = ip.split('::', 2)
  const h = head ? head.split(':') : []
  const t = ip.includes('::') ? (tail ? tail.split(':') : []) : []
  const groups = ip.includes('::') ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`
}
