import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { ErrorCode } from '@palisade/contracts'
import { ConfigError, errorHandlerPlugin, healthPlugin, metricsPlugin, sendProblem, tracingPlugin } from '@palisade/platform'
import { DEFAULT_PUBLIC_DIR, buildIfStale } from './build.js'
import type { WebConfig } from './config.js'
import { RESPONSE_HEADERS } from './headers.js'
import { sitePlugin } from './site.js'

export { WebConfigSchema, type WebConfig } from './config.js'
export { DEFAULT_PUBLIC_DIR, PACKAGE_DIR, buildIfStale } from './build.js'

const PAGES = ['index.html', 'login.html'] as const

/**
 * The web service: serves the Vite-built single-page app and nothing else. It holds no secrets,
 * talks to no database or NATS and trusts no identity header: `/` is forward-authed by the edge
 * (the route table), `/login` and `/assets/*` are public. So of the platform it takes the server
 * options, metrics, the error handler and the health checks only.
 */
const webApp: FastifyPluginAsync<{ config: WebConfig }> = async (app, { config }) => {
  // `pnpm start` on a fresh clone (or after editing the client) builds the SPA first. Production
  // images are built ahead of time (deploy/Dockerfile) and never build at start.
  if (!config.WEB_PUBLIC_DIR && config.NODE_ENV !== 'production') buildIfStale()
  const publicDir = config.WEB_PUBLIC_DIR ?? DEFAULT_PUBLIC_DIR
  for (const page of PAGES) {
    const file = join(publicDir, page)
    if (!existsSync(file)) throw new ConfigError(`${file} is missing: build the web app first (pnpm --filter @palisade/web build)`)
  }

  await app.register(tracingPlugin, { service: 'web' })
  await app.register(metricsPlugin, { service: 'web', host: config.METRICS_HOST, port: config.METRICS_PORT })
  await app.register(errorHandlerPlugin)
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(RESPONSE_HEADERS)
    if (request.method === 'GET' || request.method === 'HEAD') return done()
    // The app only reads: every other method on every path, before any body is read.
    reply.header('allow', 'GET, HEAD')
    sendProblem(reply, request, 405, ErrorCode.methodNotAllowed, 'Method not allowed')
  })
  await app.register(healthPlugin)

  await app.register(sitePlugin, { publicDir })
}

/** What the launcher checks (`export default`): the web service's app. */
export default fp(webApp, { name: 'web-app', fastify: '5.x' })
