import type { FastifyPluginAsync } from 'fastify'
import type { AuthCore } from '../lib/core.js'

/** Public keys for services that prefer HTTP to NATS. Internal only: both paths are never routable. */
export const jwksRoutes: FastifyPluginAsync<{ core: AuthCore }> = async (app, { core }) => {
  const handler = async () => core.keys.jwks
  const opts = { logLevel: 'warn', config: { public: true, rateLimit: false } } as const
  app.get('/auth/jwks', opts, handler)
  app.get('/.well-known/jwks.json', opts, handler)
}
