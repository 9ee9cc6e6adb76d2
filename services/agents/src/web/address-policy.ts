import { BlockList, isIP } from 'node:net'
import { ConfigError } from '@palisade/platform'

/**
 * Addresses `web.fetch` never connects to unless operations allow-list the range itself: this
 * host, private networks, link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254),
 * carrier-grade NAT (Alibaba's metadata at 100.100.100.200), multicast, reserved and documentation
 * ranges, and IPv6 ranges that reach IPv4 hosts indirectly (NAT64, 6to4, Teredo).
 */
const REFUSED_RANGES: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001::', 32, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['fec0::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6']
]

/** `::ffff:a.b.c.d` (and its hex spelling) is an IPv4 address; judge it as one. */
export function normaliseAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const bare = address.replace(/^\[|\]$/g, '').toLowerCase()
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare)
  if (dotted) return { address: dotted[1]!, family: 'ipv4' }
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(bare)
  if (hex) {
    const hi = Number.parseInt(hex[1]!, 16)
    const lo = Number.parseInt(hex[2]!, 16)
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 'ipv4' }
  }
  return { address: bare, family: isIP(bare) === 4 ? 'ipv4' : 'ipv6' }
}

interface HostRule {
  /** exact host, or the suffix after `*.` */
  host: string
  wildcard: boolean
  /** undefined: the default ports 80 and 443 */
  port: number | undefined
}

function parseHostRule(raw: string): HostRule {
  const entry = raw.trim().toLowerCase()
  const m = /^(\*\.)?(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(entry)
  const port = m?.[3] !== undefined ? Number(m[3]) : undefined
  if (!m || (port !== undefined && (port < 1 || port > 65535)) || (m[1] && isIP(m[2]!.replace(/^\[|\]$/g, '')) !== 0)) {
    throw new ConfigError(`AGENTS_WEB_FETCH_HOSTS: ${JSON.stringify(raw.slice(0, 100))} is not a host, *.domain or host:port`)
  }
  return { host: m[2]!.replace(/^\[|\]$/g, '').replace(/\.$/, ''), wildcard: Boolean(m[1]), port }
}

function parseRanges(raw: string): BlockList {
  const list = new BlockList()
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [addr, bits] = item.split('/')
    const n = normaliseAddress(addr ?? '')
    const family = isIP(n.address)
    const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits)
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new ConfigError(`AGENTS_WEB_FETCH_PRIVATE_RANGES: ${JSON.stringify(item.slice(0, 100))} is not an address or CIDR`)
    }
    list.addSubnet(n.address, prefix, family === 4 ? 'ipv4' : 'ipv6')
  }
  return list
}

/**
 * Where `web.fetch` may go, as operations configured it: a host allow list (nothing by default)
 * and, separately, the refused ranges they open on purpose (an intranet wiki). A host on the list
 * that resolves into a refused range is still refused unless that address is allow-listed too, so
 * a DNS answer can never steer a fetch into the internal network.
 */
export class AddressPolicy {
  private readonly hosts: HostRule[]
  private readonly refused = new BlockList()
  private readonly opened: BlockList

  constructor(hosts: string, privateRanges: string) {
    this.hosts = hosts
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map(parseHostRule)
    for (const [a, p, f] of REFUSED_RANGES) this.refused.addSubnet(a, p, f)
    this.opened = parseRanges(privateRanges)
  }

  get enabled(): boolean {
    return this.hosts.length > 0
  }

  /** Is this URL's host (and port) on the allow list? */
  hostAllowed(url: URL): boolean {
    const host = url.hostname
      .replace(/^\[|\]$/g, '')
      .replace(/\.$/, '')
      .toLowerCase()
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
    return this.hosts.some((r) => {
      if (r.port === undefined ? port !== 80 && port !== 443 : port !== r.port) return false
      return r.wildcard ? host.endsWith(`.${r.host}`) : host === r.host
    })
  }

  /** May a connection go to this resolved address? */
  addressAllowed(address: string): boolean {
    const n = normaliseAddress(address)
    if (isIP(n.address) === 0) return false
    if (!this.refused.check(n.address, n.family)) return true
    return this.opened.check(n.address, n.family)
  }
}
