import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, extname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

/**
 * The web service: serves the Vite-built single-page app and nothing else. It holds no secrets,
 * talks to no database or NATS and trusts no identity header: `/` is forward-authed by the edge
 * (the route table), `/login` and `/assets/*` are public. Everything is read into memory at start
 * (the bundle is small), so a request never touches the filesystem and no path from a request is
 * ever joined onto a directory.
 */

export interface WebConfig {
  /** directory holding `index.html`, `login.html` and `assets/` (the Vite output) */
  publicDir: string
}

/** Strict CSP: only same-origin scripts, styles, images (plus blob: previews) and connections. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'"
  // no upgrade-insecure-requests: it would break http://127.0.0.1 development; HSTS covers production
].join('; ')

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()'
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json'
}

interface Asset {
  body: Buffer
  gzip: Buffer | undefined
  type: string
  /** long-lived for content-hashed assets, never cached for HTML (it names the current hashes) */
  cache: string
}

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const DEFAULT_PUBLIC_DIR = join(PACKAGE_DIR, 'dist', 'public')

function newestMtime(dir: string): number {
  let newest = 0
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name)
    newest = Math.max(newest, name.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/**
 * Runs `vite build` when the built app is missing or older than its sources (development only:
 * the launcher, the tests). Returns whether it built.
 */
export function buildIfStale(): boolean {
  const index = join(DEFAULT_PUBLIC_DIR, 'index.html')
  const sources = Math.max(newestMtime(join(PACKAGE_DIR, 'client')), statSync(join(PACKAGE_DIR, 'vite.config.ts')).mtimeMs)
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return false
  const vite = join(dirname(createRequire(join(PACKAGE_DIR, 'package.json')).resolve('vite/package.json')), 'bin', 'vite.js')
  // Built beside and swapped in, so a second process starting at the same moment never reads a
  // half-emptied directory.
  const tmp = `${DEFAULT_PUBLIC_DIR}.tmp-${process.pid}`
  const old = `${DEFAULT_PUBLIC_DIR}.old-${process.pid}`
  const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn', '--outDir', tmp], { cwd: PACKAGE_DIR, stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true })
    throw new Error(`vite build failed (exit ${r.status})`)
  }
  try {
    renameSync(DEFAULT_PUBLIC_DIR, old)
  } catch {}
  try {
    renameSync(tmp, DEFAULT_PUBLIC_DIR)
  } catch {
    rmSync(tmp, { recursive: true, force: true }) // another process swapped its fresh build in first
  }
  rmSync(old, { recursive: true, force: true })
  return true
}

function load(file: string, cache: string): Asset {
  const body = readFileSync(file)
  const type = TYPES[extname(file)] ?? 'application/octet-stream'
  const compressible = /text|javascript|json|svg/.test(type) && body.length > 512
  return { body, gzip: compressible ? gzipSync(body, { level: 9 }) : undefined, type, cache }
}

/** Reads the built app; throws with a clear message when it has not been built. */
export function loadSite(publicDir: string): Map<string, Asset> {
  const site = new Map<string, Asset>()
  for (const page of ['index.html', 'login.html']) {
    const file = join(publicDir, page)
    if (!existsSync(file)) throw new Error(`${file} is missing: build the web app first (pnpm --filter @palisade/web build)`)
  }
  site.set('/', load(join(publicDir, 'index.html'), 'no-store'))
  site.set('/login', load(join(publicDir, 'login.html'), 'no-store'))
  const assets = join(publicDir, 'assets')
  if (existsSync(assets)) {
    for (const name of readdirSync(assets)) {
      if (/^[A-Za-z0-9._-]+$/.test(name) && !name.startsWith('.')) site.set(`/assets/${name}`, load(join(assets, name), 'public, max-age=31536000, immutable'))
    }
  }
  return site
}

function send(req: IncomingMessage, res: ServerResponse, status: number, asset: Asset | { body: Buffer; type: string; cache: string; gzip?: undefined }): void {
  const gz = asset.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
  const body = gz ? asset.gzip! : asset.body
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': asset.type,
    'cache-control': asset.cache,
    vary: 'accept-encoding',
    'content-length': body.length,
    ...(gz ? { 'content-encoding': 'gzip' } : {})
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}

function problem(req: IncomingMessage, res: ServerResponse, status: number, title: string): void {
  const body = Buffer.from(JSON.stringify({ type: 'about:blank', title, status, code: status === 404 ? 'NOT_FOUND' : 'METHOD_NOT_ALLOWED' }))
  send(req, res, status, { body, type: 'application/problem+json', cache: 'no-store' })
}

export function createWebServer(config: WebConfig): http.Server {
  const site = loadSite(config.publicDir)
  const health = { body: Buffer.from('{"status":"ok"}'), type: 'application/json', cache: 'no-store' }
  return http.createServer((req, res) => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      return problem(req, res, 405, 'Method not allowed')
    }
    if (path === '/healthz' || path === '/readyz') return send(req, res, 200, health)
    const asset = site.get(path)
    if (!asset) return problem(req, res, 404, 'Not found')
    send(req, res, 200, asset)
  })
}

/** What the launcher checks (`export default`): the web service's factory. */
export default createWebServer
