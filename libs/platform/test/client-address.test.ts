import { test } from 'tap'
import http from 'node:http'
import Fastify from 'fastify'
import { ConfigError, ProxyTrust, clientAddress, ipLimitKey, platformPlugin, serverOptions } from '../src/index.js'
import { startNatsServer, testConfig } from '../src/testing/index.js'

/** GET through a real socket whose local (source) address is `from`, as another client would. */
function getFrom(port: number, from: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, localAddress: from, headers, agent: false }, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function service(t: Tap.Test, overrides: { TRUSTED_PROXIES: string; NODE_ENV?: 'production' | 'test' }, rateLimitPerMinute?: number) {
  const nats = await startNatsServer()
  t.teardown(() => nats.stop())
  const app = Fastify(serverOptions({ service: 'gateway', logLevel: 'silent' }))
  t.teardown(() => app.close())
  await app.register(platformPlugin, {
    service: 'gateway',
    database: false,
    identity: false,
    config: testConfig({ DATABASE_URL: 'postgres://unused/x', NATS_URL: nats.url, ...overrides }),
    ...(rateLimitPerMinute ? { rateLimitPerMinute } : {})
  })
  app.get('/whoami', { config: { public: true } }, async (req) => ({ address: clientAddress(req) }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as { port: number }).port }
}

test('TRUSTED_PROXIES: IPs and CIDRs, `none`, clear errors', async (t) => {
  const trust = ProxyTrust.parse(' 10.0.0.0/8, 192.0.2.7 ,fd00::/8, ::1 ', { production: true })
  t.same(trust.entries, ['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '::1'])
  t.ok(trust.trusts('10.200.3.4'), 'inside an IPv4 CIDR')
  t.ok(trust.trusts('192.0.2.7'))
  t.notOk(trust.trusts('192.0.2.8'), 'an exact address is only itself')
  t.ok(trust.trusts('fd12:3456::1'), 'inside an IPv6 CIDR')
  t.ok(trust.trusts('::ffff:10.1.2.3'), 'an IPv4 peer on a dual-stack socket')
  t.notOk(trust.trusts('not-an-ip'))

  t.equal(ProxyTrust.parse('none', { production: true }), ProxyTrust.none, '`none`: a service clients reach directly')
  t.equal(ProxyTrust.parse('', { production: false }), ProxyTrust.none, 'outside production an empty list trusts nobody')
  t.throws(() => ProxyTrust.parse('', { production: true }), ConfigError)
  t.throws(() => ProxyTrust.parse('  ', { production: true }), /TRUSTED_PROXIES is empty/)
  t.throws(() => ProxyTrust.parse('traefik', { production: false }), /"traefik" is neither an IP address nor a CIDR/)
  t.throws(() => ProxyTrust.parse('10.0.0.0/33', { production: false }), /neither an IP address nor a CIDR/)
  t.throws(() => ProxyTrust.parse('10.0.0.0/8/1', { production: false }), /neither/)
  t.throws(() => ProxyTrust.parse('10.0.0.0/x', { production: false }), /neither/)
  t.throws(() => ProxyTrust.parse('10.0.0.1, none', { production: false }), /stands alone/)
  t.throws(() => ProxyTrust.parse('0.0.0.0/0', { production: false }), /would trust every address/)
  t.throws(() => ProxyTrust.parse('::/0', { production: false }), /would trust every address/)
})

test('the client address: X-Forwarded-For only from a trusted peer, walked from the right', async (t) => {
  const trust = ProxyTrust.parse('10.0.0.0/24, 192.0.2.1', { production: false })
  t.equal(trust.clientOf('198.51.100.9', '203.0.113.5'), '198.51.100.9', 'an untrusted peer: its own claim is ignored')
  t.equal(trust.clientOf('10.0.0.7', '203.0.113.5'), '203.0.113.5', 'a trusted peer (CIDR): the address it appended')
  t.equal(trust.clientOf('10.0.0.7', '6.6.6.6, 203.0.113.5'), '203.0.113.5', 'rightmost: what the client itself sent stays on the left')
  t.equal(trust.clientOf('10.0.0.7', '6.6.6.6, 203.0.113.5, 192.0.2.1'), '203.0.113.5', 'a chain of trusted proxies is walked through')
  t.equal(trust.clientOf('10.0.0.7', ['6.6.6.6', '203.0.113.5']), '203.0.113.5', 'repeated headers read as one list')
  t.equal(trust.clientOf('10.0.0.7', '6.6.6.6, garbage'), '10.0.0.7', 'a malformed hop stops the walk at the last trusted one')
  t.equal(trust.clientOf('10.0.0.7', undefined), '10.0.0.7')
  t.equal(trust.clientOf('::ffff:10.0.0.7', '::ffff:203.0.113.5'), '203.0.113.5', 'IPv4-mapped addresses are plain IPv4')
  t.equal(trust.clientOf('10.0.0.7', '2001:db8::1'), '2001:db8::1')
  t.equal(ProxyTrust.none.clientOf('10.0.0.7', '203.0.113.5'), '10.0.0.7', 'trusting nobody: always the peer')
  const many = Array.from({ length: 40 }, () => '10.0.0.9').join(',')
  t.equal(trust.clientOf('10.0.0.7', `1.2.3.4,${many}`), '10.0.0.9', 'a long chain is walked a bounded number of hops')
})

test('address limits count IPv4 addresses and IPv6 /64s', async (t) => {
  t.equal(ipLimitKey('203.0.113.7'), '203.0.113.7')
  t.equal(ipLimitKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64')
  t.equal(ipLimitKey('2001:db8:1:2::1'), '2001:db8:1:2::/64', 'every address of one /64 is one key')
  t.equal(ipLimitKey('2001:0db8:0001:0002::ffff'), '2001:db8:1:2::/64', 'leading zeros do not make a new key')
  t.equal(ipLimitKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(ipLimitKey('::1'), '0:0:0:0::/64')
  t.not(ipLimitKey('2001:db8:1:3::1'), ipLimitKey('2001:db8:1:2::1'), 'another /64 is another key')
})

test('through a listening service: peers from several loopback addresses, a trusted proxy CIDR', async (t) => {
  // 127.0.0.8/30 plays the edge (127.0.0.8–11); 127.0.0.2 and 127.0.0.3 are clients connecting directly.
  const { port } = await service(t, { TRUSTED_PROXIES: '127.0.0.8/30' })
  const who = async (from: string, xff?: string) => JSON.parse((await getFrom(port, from, '/whoami', xff ? { 'x-forwarded-for': xff } : {})).body).address
  t.equal(await who('127.0.0.2'), '127.0.0.2')
  t.equal(await who('127.0.0.2', '203.0.113.9'), '127.0.0.2', 'X-Forwarded-For from an untrusted peer is ignored')
  t.equal(await who('127.0.0.9', '6.6.6.6, 203.0.113.9'), '203.0.113.9', 'from the trusted CIDR: its rightmost entry')
  t.equal(await who('127.0.0.11', '198.51.100.4'), '198.51.100.4')
  t.equal(await who('127.0.0.12', '198.51.100.4'), '127.0.0.12', 'just outside the CIDR: not trusted')
})

test('the platform rate limit keys anonymous callers on the client address, not on the proxy', async (t) => {
  const { port } = await service(t, { TRUSTED_PROXIES: '127.0.0.9' }, 3)
  const viaEdge = (client: string) => getFrom(port, '127.0.0.9', '/whoami', { 'x-forwarded-for': client })
  const a = []
  for (let i = 0; i < 4; i++) a.push((await viaEdge('203.0.113.1')).status)
  t.same(a, [200, 200, 200, 429], 'one client behind the edge exhausts its own budget')
  t.equal((await viaEdge('203.0.113.2')).status, 200, 'another client behind the same edge is not affected')
  t.equal((await getFrom(port, '127.0.0.2', '/whoami')).status, 200, 'nor a client connecting directly')
})

test('production refuses to start without TRUSTED_PROXIES; `none` is an explicit choice', async (t) => {
  await t.rejects(service(t, { TRUSTED_PROXIES: '', NODE_ENV: 'production' }), /TRUSTED_PROXIES is empty/)
  await t.rejects(service(t, { TRUSTED_PROXIES: 'edge.internal', NODE_ENV: 'test' }), /neither an IP address nor a CIDR/, 'a bad entry stops any service')
  const { port } = await service(t, { TRUSTED_PROXIES: 'none', NODE_ENV: 'production' })
  t.equal(
    JSON.parse((await getFrom(port, '127.0.0.3', '/whoami', { 'x-forwarded-for': '203.0.113.9' })).body).address,
    '127.0.0.3',
    'a directly exposed service believes no one'
  )
})
