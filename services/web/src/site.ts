import { join, sep } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'
import { IMMUTABLE } from './headers.js'

export interface SiteOptions {
  /** directory holding `index.html`, `login.html` and `assets/` (the Vite output) */
  publicDir: string
}

/**
 * The built app: `/` and `/login` (the pages, never cached: they name the current asset hashes)
 * and `/assets/<file>` (content-hashed, cached for good). Routes exist only for the files present
 * at start, so no path from a request is ever resolved against a directory. Encapsulated: its
 * hook touches these answers only.
 */
export const sitePlugin: FastifyPluginAsync<SiteOptions> = async (app, { publicDir }) => {
  const assetsDir = join(publicDir, 'assets')
  await app.register(fastifyStatic, {
    root: assetsDir,
    prefix: '/assets/',
    // One route per file present at start (no wildcard route that resolves request paths).
    wildcard: false,
    globIgnore: ['**/*.gz'],
    index: false,
    list: false,
    redirect: false,
    serveDotFiles: false,
    // The gzip copies written at build time (vite.config.ts): nothing is compressed per request.
    preCompressed: true,
    // Assets are content-hashed and pages never cached: validators and ranges would be dead weight.
    etag: false,
    lastModified: false,
    acceptRanges: false,
    cacheControl: false,
    // Also called for the pages' sendFile below, which keep the no-store every answer starts with.
    setHeaders: (reply, path) => {
      if (path.startsWith(assetsDir + sep)) reply.header('cache-control', IMMUTABLE)
    }
  })
  // @fastify/send's mime table still says application/javascript; RFC 9239 (and browsers) say text/javascript.
  app.addHook('onSend', (_request, reply, payload, done) => {
    const type = reply.getHeader('content-type')
    if (typeof type === 'string' && type.startsWith('application/javascript')) reply.header('content-type', 'text/javascript; charset=utf-8')
    done(null, payload)
  })
  app.get('/', (_request, reply) => reply.sendFile('index.html', publicDir))
  app.get('/login', (_request, reply) => reply.sendFile('login.html', publicDir))
}
