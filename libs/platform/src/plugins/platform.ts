import fp from 'fastify-plugin'
import type { AppServiceName } from '@palisade/contracts'
import { REQUEST_ID_HEADER } from '@palisade/contracts'
import { splitList, type BaseConfig } from '../config.js'
import { errorHandlerPlugin } from './error-handler.js'
import { securityPlugin } from './security.js'
import { healthPlugin } from './health.js'
import { natsPlugin } from './nats.js'
import { dbPlugin } from './db.js'
import { identityPlugin } from './identity.js'

export interface PlatformOptions {
  service: AppServiceName
  config: BaseConfig
  /** drizzle migrations folder of the service */
  migrationsFolder?: string
  /** skip the identity plugin (auth verifies its own tokens) */
  identity?: boolean
  rateLimitPerMinute?: number
}

/**
 * Everything a Palisade service stands on, in dependency order: error handling, security headers,
 * CORS and rate limits, NATS, PostgreSQL (with migrations), identity verification, health checks.
 */
export const platformPlugin = fp<PlatformOptions>(
  async (app, opts) => {
    const { config } = opts
    app.addHook('onSend', async (request, reply) => {
      reply.header(REQUEST_ID_HEADER, request.id)
    })
    await app.register(errorHandlerPlugin)
    await app.register(natsPlugin, { connection: { url: config.NATS_URL, name: opts.service, user: config.NATS_USER, pass: config.NATS_PASSWORD } })
    await app.register(dbPlugin, { url: config.DATABASE_URL, name: opts.service, schema: opts.service, ...(opts.migrationsFolder ? { migrationsFolder: opts.migrationsFolder } : {}) })
    if (opts.identity !== false) await app.register(identityPlugin, { service: opts.service, issuer: config.AUTH_ISSUER })
    await app.register(securityPlugin, { allowedOrigins: splitList(config.ALLOWED_ORIGINS), ...(opts.rateLimitPerMinute ? { rateLimitPerMinute: opts.rateLimitPerMinute } : {}) })
    await app.register(healthPlugin)
  },
  { name: 'palisade-platform' }
)
