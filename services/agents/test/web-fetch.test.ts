import { test, type Test } from 'tap'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AddressPolicy } from '../src/web/address-policy.js'
import { WebFetcher, WebFetchError, type Resolver } from '../src/web/fetcher.js'

// web.fetch as an attacker would aim it: real HTTP servers on loopback addresses, some of which
// the test allow-lists (host and range) and some it does not.

interface Site {
  server: Server
  port: number
  hits: string[]
}

async function site(host: string, routes: (port: () => number) => Record<string, (res: import('node:http').ServerResponse) => void>): Promise<Site> {
  const hits: string[] = []
  let port = 0
  const table = routes(() => port)
  const server = createServer((req, res) => {
    hits.push(req.url ?? '')
    res.setHeader('connection', 'close') // every fetch makes (and resolves for) a new connection
    const route = table[(req.url ?? '').split('?')[0]!]
    if (!route) return res.writeHead(404, { 'content-type': 'text/plain' }).end('no')
    route(res)
  })
  await new Promise<void>((r) => server.listen(0, host, r))
  port = (server.address() as AddressInfo).port
  return { server, port, hits }
}

test('web.fetch', async (t) => {
  const other = await site('127.0.0.3', () => ({ '/page.html': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>internal</p>') }))
  const main = await site('127.0.0.2', (port) => ({
    '/page.html': (res) =>
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end('<html><head><title>T</title><style>p{}</style><script>steal()</script></head><body><h1>Hello</h1><p>Plain <b>words</b>.</p></body></html>'),
    '/data.json': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}'),
    '/image.png': (res) => res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(10)),
    '/big': (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(3 * 1024 * 1024)),
    '/slow': (res) => res.writeHead(200, { 'content-type': 'text/plain' }).write('starting…'),
    '/r1': (res) => res.writeHead(302, { location: '/page.html' }).end(),
    '/r2': (res) => res.writeHead(302, { location: '/r1' }).end(),
    '/r3': (res) => res.writeHead(302, { location: '/r2' }).end(),
    '/r4': (res) => res.writeHead(302, { location: '/r3' }).end(),
    '/to-metadata': (res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
    '/to-other': (res) => res.writeHead(302, { location: `http://127.0.0.3:${other.port}/page.html` }).end(),
    '/to-unlisted': (res) => res.writeHead(301, { location: `http://127.0.0.2:${port() + 1}/page.html` }).end(),
    '/to-file': (res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end()
  }))
  t.teardown(() => {
    main.server.close()
    other.server.close()
  })

  const resolutions: string[] = []
  let rebindAnswers = ['127.0.0.2', '127.0.0.3']
  const resolver: Resolver = async (hostname) => {
    resolutions.push(hostname)
    if (hostname === 'rebind.test') return [{ address: rebindAnswers.shift() ?? '127.0.0.3', family: 4 }]
    if (hostname === 'localhost') return [{ address: '127.0.0.1', family: 4 }]
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
  }
  const policy = new AddressPolicy(
    `127.0.0.2:${main.port}, 127.0.0.3:${other.port}, rebind.test:${main.port}, localhost:${main.port}, 169.254.169.254`,
    '127.0.0.2/32'
  )
  const fetcher = new WebFetcher({ policy, maxBytes: 1024 * 1024, timeoutMs: 1500, resolve: resolver })
  t.teardown(() => fetcher.close())
  const base = `http://127.0.0.2:${main.port}`
  const get = (url: string) => fetcher.fetch(url, new AbortController().signal)
  const refused = async (t: Test, url: string, why: RegExp, msg: string) => {
    const err = await get(url).then(
      () => undefined,
      (e: unknown) => e
    )
    t.type(err, WebFetchError, `${msg}: refused`)
    t.match((err as Error | undefined)?.message, why, msg)
  }

  await t.test('allowed: HTML reduced to text, JSON as is', async (t) => {
    const page = await get(`${base}/page.html`)
    t.match(page, { status: 200, contentType: 'text/html', truncated: false })
    t.match(page.text, /HELLO/)
    t.match(page.text, /Plain words\./)
    t.notMatch(page.text, /steal|<p>|p\{\}/, 'no markup, scripts or styles')
    t.equal((await get(`${base}/data.json`)).text, '{"a":1}')
  })

  await t.test('not on the allow list, or not text', async (t) => {
    await refused(t, `http://127.0.0.4:${main.port}/page.html`, /not on the allow list/, 'another address')
    await refused(t, `http://127.0.0.2:${main.port + 1}/page.html`, /not on the allow list/, 'another port of an allowed address')
    await refused(t, `http://example.invalid/`, /not on the allow list/, 'a name nobody listed')
    await refused(t, `ftp://127.0.0.2:${main.port}/`, /only http and https/, 'another scheme')
    await refused(t, `http://user:pw@127.0.0.2:${main.port}/page.html`, /credentials/, 'credentials in the URL')
    await refused(t, `${base}/image.png`, /is not text, HTML or JSON/, 'an image')
  })

  await t.test('private ranges stay closed unless opened on purpose', async (t) => {
    await refused(t, `http://127.0.0.3:${other.port}/page.html`, /address 127\.0\.0\.3 is not allowed/, 'listed host, unopened range')
    await refused(t, `http://localhost:${main.port}/page.html`, /resolves to an address that is not allowed/, 'a name resolving to 127.0.0.1')
    t.same(other.hits, [], 'the unopened server never saw a request')
  })

  await t.test('DNS rebinding: the connection goes to the address that was checked', async (t) => {
    resolutions.length = 0
    rebindAnswers = ['127.0.0.2', '127.0.0.3']
    const first = await get(`http://rebind.test:${main.port}/data.json`)
    t.equal(first.text, '{"a":1}', 'first answer: an allowed address')
    await refused(t, `http://rebind.test:${main.port}/data.json`, /resolves to an address that is not allowed/, 'second answer: a refused one')
    t.same(other.hits, [], 'nothing reached the rebinding target')
    t.equal(resolutions.filter((h) => h === 'rebind.test').length, 2, 'one resolution per connection, none after the check')
  })

  await t.test('redirects: at most three, each checked again', async (t) => {
    const three = await get(`${base}/r3`)
    t.equal(three.requests.length, 4)
    t.match(three.text, /HELLO/)
    await refused(t, `${base}/r4`, /more than 3 redirects/, 'a fourth')
    await refused(t, `${base}/to-metadata`, /address 169\.254\.169\.254 is not allowed/, 'into the metadata range (even though the host is listed)')
    await refused(t, `${base}/to-other`, /not allowed/, 'into an unopened range')
    await refused(t, `${base}/to-unlisted`, /not on the allow list/, 'to a host not on the list')
    await refused(t, `${base}/to-file`, /only http and https/, 'to another scheme')
    t.same(other.hits, [])
  })

  await t.test('size and time caps', async (t) => {
    const big = await get(`${base}/big`)
    t.equal(big.truncated, true)
    t.equal(big.text.length, 1024 * 1024, 'cut at the cap')
    await refused(t, `${base}/slow`, /no complete answer within 1500 ms/, 'a body that never ends')
  })
})

test('address policy', async (t) => {
  const policy = new AddressPolicy('example.com, *.docs.example.org, 10.1.2.3:8080', '10.1.2.0/24')
  const url = (u: string) => policy.hostAllowed(new URL(u))
  t.ok(url('https://example.com/x'))
  t.ok(url('http://EXAMPLE.com./x'), 'case and a trailing dot do not matter')
  t.notOk(url('https://example.com:8443/'), 'only ports 80 and 443 unless a port is listed')
  t.notOk(url('https://sub.example.com/'), 'an exact host does not cover subdomains')
  t.ok(url('https://a.b.docs.example.org/'))
  t.notOk(url('https://docs.example.org/'), '*.domain covers subdomains only')
  t.notOk(url('https://evildocs.example.org/'))
  t.ok(url('http://10.1.2.3:8080/'))
  t.notOk(new AddressPolicy('', '').enabled, 'nothing is allowed by default')

  for (const a of [
    '127.0.0.1',
    '10.0.0.1',
    '169.254.169.254',
    '100.100.100.200',
    '192.168.1.1',
    '172.31.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fd00:ec2::254',
    'fe80::1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    '224.0.0.1'
  ]) {
    t.notOk(policy.addressAllowed(a), `${a} is refused`)
  }
  for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '10.1.2.200', '::ffff:10.1.2.7']) t.ok(policy.addressAllowed(a), `${a} is allowed`)
  t.notOk(policy.addressAllowed('not-an-ip'))

  t.throws(() => new AddressPolicy('http://example.com', ''), /AGENTS_WEB_FETCH_HOSTS/)
  t.throws(() => new AddressPolicy('*.10.0.0.1', ''), /AGENTS_WEB_FETCH_HOSTS/)
  t.throws(() => new AddressPolicy('example.com:99999', ''), /AGENTS_WEB_FETCH_HOSTS/)
  t.throws(() => new AddressPolicy('', '10.0.0.0/33'), /AGENTS_WEB_FETCH_PRIVATE_RANGES/)
})
