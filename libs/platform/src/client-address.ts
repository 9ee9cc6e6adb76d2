import { BlockList, isIP } from 'node:net'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { ConfigError, splitList } from './config.js'

/** The value of TRUSTED_PROXIES that declares a service reached by clients directly, with no proxy. */
export const NO_PROXY = 'none'

/** How many X-Forwarded-For hops are walked at most (a chain of trusted proxies is short). */
const MAX_HOPS = 16

/** Which peers may tell us the client's address: the proxies of TRUSTED_PROXIES (IPs and CIDRs). */
export class ProxyTrust {
  private constructor(
    private readonly list: BlockList | undefined,
    /** the configured entries, normalised (for logs and errors) */
    readonly entries: readonly string[]
  ) {}

  /** Nobody's X-Forwarded-For is believed: the socket peer is the client. */
  static readonly none = new ProxyTrust(undefined, [])

  /**
   * Parses TRUSTED_PROXIES: comma-separated IPv4/IPv6 addresses and CIDRs, or `none`. Empty means
   * "not configured", which production refuses: every service runs behind the edge, so without it
   * every client would share the edge's address in every per-address limit.
   */
  static parse(value: string, opts: { production: boolean; variable?: string }): ProxyTrust {
    const name = opts.variable ?? 'TRUSTED_PROXIES'
    const items = splitList(value)
    if (items.length === 0) {
      if (opts.production) {
        throw new ConfigError(
          `${name} is empty: behind a proxy every client would share the proxy's address in every per-address limit. ` +
            `Set it to the address(es) or CIDR(s) of the proxy that connects to this service (compose: the edge's fixed address), ` +
            `or to \`${NO_PROXY}\` if clients reach this service directly. (AUTH_TRUSTED_PROXIES is now ${name}, for every service.)`
        )
      }
      return ProxyTrust.none
    }
    if (items.length === 1 && items[0]!.toLowerCase() === NO_PROXY) return ProxyTrust.none
    const list = new BlockList()
    const entries: string[] = []
    for (const item of items) {
      const [net = '', prefixText, extra] = item.split('/')
      const family = isIP(net)
      const prefix = prefixText === undefined ? undefined : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN
      const max = family === 4 ? 32 : 128
      if (family === 0 || extra !== undefined || (prefix !== undefined && !(prefix >= 0 && prefix <= max))) {
        throw new ConfigError(
          `${name}: ${JSON.stringify(item)} is neither an IP address nor a CIDR (e.g. 172.29.0.2 or 10.0.0.0/8)${item.toLowerCase() === NO_PROXY ? `; \`${NO_PROXY}\` stands alone` : ''}`
        )
      }
      // Trusting every address would believe any client's X-Forwarded-For: a spoofing switch, not a setting.
      if (prefix === 0) throw new ConfigError(`${name}: ${item} would trust every address; list the proxies themselves`)
      const type = family === 4 ? 'ipv4' : 'ipv6'
      if (prefix === undefined) list.addAddress(net, type)
      else list.addSubnet(net, prefix, type)
      entries.push(item)
    }
    return new ProxyTrust(list, entries)
  }

  trusts(address: string): boolean {
    if (!this.list) return false
    const family = isIP(address)
    return family !== 0 && this.list.check(address, family === 4 ? 'ipv4' : 'ipv6')
  }

  /**
   * The client's address: the socket peer, unless the peer is a trusted proxy; then X-Forwarded-For
   * is walked from the right (each proxy appends the address it saw) past trusted proxies to the
   * first address that is not one. A malformed entry stops the walk at the last trusted hop.
   */
  clientOf(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    let address = plainAddress(peer ?? '')
    if (!this.list || !this.trusts(address) || forwardedFor === undefined) return address
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',')
    for (let i = hops.length - 1; i >= 0 && i >= hops.length - MAX_HOPS; i--) {
      const hop = plainAddress(hops[i]!.trim())
      if (isIP(hop) === 0) return address
      address = hop
      if (!this.trusts(address)) return address
    }
    return address
  }
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) → `192.0.2.1`. */
export function plainAddress(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the service's TRUSTED_PROXIES, parsed (see clientAddress) */
    proxyTrust: ProxyTrust
  }
}

export interface ClientAddressPluginOptions {
  /** TRUSTED_PROXIES */
  trustedProxies: string
  /** NODE_ENV is production: an empty list refuses to start */
  production: boolean
}

/** Parses TRUSTED_PROXIES once at start (a bad or, in production, missing value stops the service). */
export const clientAddressPlugin = fp<ClientAddressPluginOptions>(
  async (app, opts) => {
    app.decorate('proxyTrust', ProxyTrust.parse(opts.trustedProxies, { production: opts.production }))
  },
  { name: 'palisade-client-address' }
)

/**
 * The address of the client as the edge saw it: what every per-address limit, cap and audit entry
 * of every service uses. X-Forwarded-For counts only when the socket peer is a configured proxy.
 */
export function clientAddress(request: FastifyRequest): string {
  const trust = request.server.hasDecorator('proxyTrust') ? request.server.proxyTrust : ProxyTrust.none
  return trust.clientOf(request.raw.socket?.remoteAddress ?? request.ip, request.headers['x-forwarded-for'])
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
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`
}

/** The key of a per-address limit for this request's client. */
export function clientLimitKey(request: FastifyRequest): string {
  return ipLimitKey(clientAddress(request))
}
