import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import Fastify from 'fastify'
import { GATEWAY_CLOSE } from '@palisade/contracts'
import { loadConfig, serverOptions } from '@palisade/platform'
import { securityHeaders } from '@palisade/platform'
import webApp, { DEFAULT_PUBLIC_DIR, PACKAGE_DIR, WebConfigSchema, buildIfStale } from '../src/app.js'
import { CLOSE, backoffDelay } from '../client/src/realtime.js'

buildIfStale()

const app = Fastify(serverOptions({ service: 'web', logLevel: 'silent' }))
await app.register(webApp, { config: loadConfig(WebConfigSchema, { WEB_PUBLIC_DIR: DEFAULT_PUBLIC_DIR, METRICS_PORT: '0' }) })
t.teardown(() => app.close())
const base = await app.listen({ host: '127.0.0.1', port: 0 })

t.test('serves exactly the routes of the route table, with the security headers', async (t) => {
  for (const path of ['/', '/login']) {
    const r = await fetch(base + path)
    t.equal(r.status, 200, path)
    t.match(r.headers.get('content-type'), /^text\/html/)
    t.equal(r.headers.get('cache-control'), 'no-store')
    const csp = r.headers.get('content-security-policy') ?? ''
    t.match(csp, /script-src 'self'(;|$)/, 'scripts only from the origin')
    t.match(csp, /style-src 'self'(;|$)/, 'styles only from the origin')
    t.match(csp, /frame-ancestors 'none'/)
    t.notMatch(csp, /unsafe-inline|unsafe-eval/)
    t.equal(r.headers.get('x-content-type-options'), 'nosniff')
    t.match(r.headers.get('strict-transport-security'), /max-age=\d{8}/)
    t.equal(r.headers.get('x-frame-options'), 'DENY')
  }
  const html = await (await fetch(`${base}/`)).text()
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!
  const a = await fetch(base + asset, { headers: { 'accept-encoding': 'gzip' } })
  t.equal(a.status, 200)
  t.match(a.headers.get('content-type'), /^text\/javascript/)
  t.match(a.headers.get('cache-control'), /immutable/)
  for (const bad of ['/index.html', '/login.html', '/assets/../index.html', '/assets/%2e%2e/package.json', '/assets/', '/app', '/login/x', '/src/app.ts']) {
    t.equal((await fetch(base + bad)).status, 404, `${bad} is not served`)
  }
  t.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405)
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'health for the launcher and compose (the edge never routes it)')
})

t.test('every answer carries the same headers as the static server before it', async (t) => {
  const html = await (await fetch(`${base}/`)).text()
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!
  const css = /href="(\/assets\/[^"]+\.css)"/.exec(html)![1]!
  const cases: [string, string, number, string][] = [
    ['GET', '/', 200, 'no-store'],
    ['HEAD', '/login', 200, 'no-store'],
    ['GET', asset, 200, 'public, max-age=31536000, immutable'],
    ['GET', css, 200, 'public, max-age=31536000, immutable'],
    ['GET', '/nope', 404, 'no-store'],
    ['POST', '/', 405, 'no-store'],
    ['GET', '/healthz', 200, 'no-store'],
    ['GET', '/readyz', 200, 'no-store']
  ]
  for (const [method, path, status, cache] of cases) {
    for (const encoding of ['gzip, deflate, br', 'identity']) {
      const r = await fetch(base + path, { method, headers: { 'accept-encoding': encoding } })
      const what = `${method} ${path} (${encoding})`
      t.equal(r.status, status, what)
      for (const [name, value] of Object.entries(securityHeaders('web'))) t.equal(r.headers.get(name), value, `${what}: ${name}`)
      t.equal(r.headers.get('cache-control'), cache, `${what}: cache-control`)
      t.equal(r.headers.get('vary'), 'accept-encoding', `${what}: vary`)
      t.equal(r.headers.get('etag'), null, `${what}: no etag`)
      t.equal(r.headers.get('last-modified'), null, `${what}: no last-modified`)
      t.equal(r.headers.get('accept-ranges'), null, `${what}: no ranges`)
      if (status === 200 && method === 'GET' && path !== '/healthz' && path !== '/readyz') {
        t.equal(r.headers.get('content-encoding'), encoding === 'identity' ? null : 'gzip', `${what}: compressed for clients that take gzip`)
      }
      await r.arrayBuffer()
    }
  }
  t.match((await fetch(base + css)).headers.get('content-type'), /^text\/css; charset=utf-8$/)
  t.equal((await fetch(base + asset)).headers.get('content-type'), 'text/javascript; charset=utf-8', 'text/javascript, also uncompressed')
  const head = await fetch(`${base}/`, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(await head.text(), '', 'HEAD has no body')
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    const r = await fetch(base + asset, { method, ...(method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}) })
    t.equal(r.status, 405, `${method} is refused`)
    t.equal(r.headers.get('allow'), 'GET, HEAD')
    t.match(r.headers.get('content-type'), /^application\/problem\+json/)
    t.match(await r.json(), { status: 405, code: 'METHOD_NOT_ALLOWED' })
  }
  const missing = await fetch(`${base}/nope`)
  t.match(missing.headers.get('content-type'), /^application\/problem\+json/)
  t.match(await missing.json(), { status: 404, code: 'NOT_FOUND' })
  t.equal((await fetch(`${base + asset}.gz`)).status, 404, 'the gzip copies are not routes of their own')
})

t.test('a missing build stops the start with a clear message', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'palisade-web-empty-'))
  t.teardown(() => rmSync(empty, { recursive: true, force: true }))
  const bare = Fastify(serverOptions({ service: 'web', logLevel: 'silent' }))
  await t.rejects(
    async () => {
      await bare.register(webApp, { config: loadConfig(WebConfigSchema, { WEB_PUBLIC_DIR: empty, METRICS_PORT: '0' }) })
      await bare.ready()
    },
    { name: 'ConfigError', message: `${join(empty, 'index.html')} is missing: build the web app first (pnpm --filter @palisade/web build)` }
  )
  await bare.close().catch(() => {})
})

t.test('the built pages have no inline script or style and the client never uses innerHTML or persistent storage', async (t) => {
  for (const page of ['index.html', 'login.html']) {
    const html = readFileSync(join(DEFAULT_PUBLIC_DIR, page), 'utf8')
    t.notMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, `${page}: every script has a src`)
    t.notMatch(html, /<style|\sstyle=|\son[a-z]+=/i, `${page}: no inline style or handler`)
  }
  const dir = join(PACKAGE_DIR, 'client', 'src')
  for (const f of readdirSync(dir)) {
    const src = readFileSync(join(dir, f), 'utf8')
    t.notMatch(
      src,
      /[.[]\s*["']?(innerHTML|outerHTML|srcdoc)\b|insertAdjacentHTML|createContextualFragment|document\.write|\bsetHTML(Unsafe)?\(|parseHTMLUnsafe|DOMParser|\bnew Function\(|localStorage|indexedDB|\beval\(/,
      `${f}: no HTML sinks, no persistent web storage`
    )
    // Drafts and the outbox (typed text only, this tab only) go through one module, nothing else.
    if (f !== 'session-store.ts')
      t.notMatch(src, /\.\s*sessionStorage\b|\bsessionStorage\s*[.[]|\[\s*['"]sessionStorage/, `${f}: web storage only through session-store.ts`)
  }
})

t.test('the bundle carries no TypeBox schemas (a value import from the contracts would)', async (t) => {
  for (const f of readdirSync(join(DEFAULT_PUBLIC_DIR, 'assets')).filter((f) => f.endsWith('.js'))) {
    t.notMatch(readFileSync(join(DEFAULT_PUBLIC_DIR, 'assets', f), 'utf8'), /additionalProperties/, f)
  }
})

t.test('bundle budget: at most 60 KiB of gzipped JavaScript and CSS on the first load of each page', async (t) => {
  // Issue 24: the first load stays well under 60 KiB gzipped, with everything the features add.
  for (const page of ['index.html', 'login.html']) {
    const html = readFileSync(join(DEFAULT_PUBLIC_DIR, page), 'utf8')
    const files = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+\.(?:js|css))"/g)].map((m) => m[1]!)
    t.ok(files.some((f) => f.endsWith('.js')))
    const bytes = files.reduce((n, f) => n + gzipSync(readFileSync(join(DEFAULT_PUBLIC_DIR, 'assets', f)), { level: 9 }).length, 0)
    t.comment(`${page}: ${files.length} files, ${(bytes / 1024).toFixed(1)} KiB gzipped`)
    t.ok(bytes <= 60 * 1024, `${page}: ${bytes} bytes ≤ 60 KiB`)
    // The Markdown parser is a chunk of its own, fetched after the first paint (markdown.ts).
    for (const f of files)
      t.notMatch(readFileSync(join(DEFAULT_PUBLIC_DIR, 'assets', f), 'utf8'), /validateLink|linkify/, `${page}: ${f} has no Markdown parser`)
  }
  t.ok(
    readdirSync(join(DEFAULT_PUBLIC_DIR, 'assets')).some((f) => /^markdown-render-.*\.js$/.test(f)),
    'which is built beside them'
  )
})

t.test('the client knows the gateway close codes and backs off with jitter', async (t) => {
  t.equal(CLOSE, GATEWAY_CLOSE, 'the client takes them from the contracts')
  t.equal(
    backoffDelay(0, () => 0),
    250
  )
  t.equal(
    backoffDelay(0, () => 1),
    500
  )
  t.equal(
    backoffDelay(20, () => 1),
    30_000,
    'capped at 30 s'
  )
  const spread = new Set(Array.from({ length: 20 }, () => backoffDelay(3)))
  t.ok(spread.size > 5, 'jittered')
})
