import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { AddressInfo } from 'node:net'
import { GATEWAY_CLOSE } from '@palisade/contracts'
import { DEFAULT_PUBLIC_DIR, PACKAGE_DIR, buildIfStale, createWebServer } from '../src/app.js'
import { CLOSE, backoffDelay } from '../client/src/realtime.js'

buildIfStale()

const server = createWebServer({ publicDir: DEFAULT_PUBLIC_DIR })
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
t.teardown(() => server.close())
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

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
  const html = await (await fetch(base + '/')).text()
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!
  const a = await fetch(base + asset, { headers: { 'accept-encoding': 'gzip' } })
  t.equal(a.status, 200)
  t.match(a.headers.get('content-type'), /^text\/javascript/)
  t.match(a.headers.get('cache-control'), /immutable/)
  for (const bad of ['/index.html', '/login.html', '/assets/../index.html', '/assets/%2e%2e/package.json', '/assets/', '/app', '/login/x', '/src/app.ts']) {
    t.equal((await fetch(base + bad)).status, 404, `${bad} is not served`)
  }
  t.equal((await fetch(base + '/', { method: 'POST' })).status, 405)
  t.equal((await fetch(base + '/healthz')).status, 200, 'health for the launcher and compose (the edge never routes it)')
})

t.test('the built pages have no inline script or style and the client never uses innerHTML', async (t) => {
  for (const page of ['index.html', 'login.html']) {
    const html = readFileSync(join(DEFAULT_PUBLIC_DIR, page), 'utf8')
    t.notMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, `${page}: every script has a src`)
    t.notMatch(html, /<style|\sstyle=|\son[a-z]+=/i, `${page}: no inline style or handler`)
  }
  const dir = join(PACKAGE_DIR, 'client', 'src')
  for (const f of readdirSync(dir)) {
    const src = readFileSync(join(dir, f), 'utf8')
    t.notMatch(src, /[.[]\s*["']?(innerHTML|outerHTML|srcdoc)\b|insertAdjacentHTML|createContextualFragment|document\.write|localStorage|sessionStorage|\beval\(/, `${f}: no HTML sinks, no web storage`)
  }
})

t.test('bundle budget: at most 150 KiB of gzipped JavaScript on the first load of each page', async (t) => {
  for (const page of ['index.html', 'login.html']) {
    const html = readFileSync(join(DEFAULT_PUBLIC_DIR, page), 'utf8')
    const js = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]!)
    t.ok(js.length > 0)
    const bytes = js.reduce((n, f) => n + gzipSync(readFileSync(join(DEFAULT_PUBLIC_DIR, 'assets', f)), { level: 9 }).length, 0)
    t.comment(`${page}: ${js.length} scripts, ${(bytes / 1024).toFixed(1)} KiB gzipped`)
    t.ok(bytes <= 150 * 1024, `${page}: ${bytes} bytes ≤ 150 KiB`)
  }
})

t.test('the client knows the gateway close codes and backs off with jitter', async (t) => {
  for (const [k, v] of Object.entries(CLOSE)) t.equal(v, GATEWAY_CLOSE[k as keyof typeof GATEWAY_CLOSE], k)
  t.equal(backoffDelay(0, () => 0), 250)
  t.equal(backoffDelay(0, () => 1), 500)
  t.equal(backoffDelay(20, () => 1), 30_000, 'capped at 30 s')
  const spread = new Set(Array.from({ length: 20 }, () => backoffDelay(3)))
  t.ok(spread.size > 5, 'jittered')
})
