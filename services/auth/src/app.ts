import { fileURLToPath } from 'node:url'
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import type { FastifyPluginAsync } from 'fastify'
import { clientAddress, platformPlugin, splitList } from '@palisade/platform'
import { loadMfaKey, loadSigningKeys, webauthnParty, type AuthConfig } from './config.js'
import { Keyring } from './lib/keyring.js'
import { AuthCore } from './lib/core.js'
import { makeDummyHash, preloadCommonPasswords } from './lib/passwords.js'
import { pruneLoginFailures } from './lib/throttle.js'
import { credentialRoutes } from './routes/credentials.js'
import { accountRoutes } from './routes/account.js'
import { passwordResetRoute } from './routes/password-reset.js'
import { verifyRoute } from './routes/verify.js'
import { TokenUsage } from './lib/token-usage.js'
import { jwksRoutes } from './routes/jwks.js'
import { registerNatsHandlers } from './nats/handlers.js'
import { loginMfaRoutes } from './routes/login-mfa.js'
import { deriveMfaKeys } from './lib/mfa-keys.js'
import type { MfaDeps } from './lib/mfa.js'
import { loadOidcProviders } from './lib/oidc/providers.js'
import { oidcRoutes } from './routes/oidc.js'
import { auditMetrics } from './lib/audit-metrics.js'

export { AuthConfigSchema, type AuthConfig } from './config.js'

declare module 'fastify' {
  interface FastifyInstance {
    authCore: AuthCore
  }
}

const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url))

/** The auth service: accounts, sessions, tokens, ForwardAuth /verify, JWKS, audit trail. */
const authApp: FastifyPluginAsync<{ config: AuthConfig }> = async (app, { config }) => {
  // identity: false — auth is the issuer; its forward-authed routes verify assertions with its own keys.
  // Budgets in PostgreSQL: sign-in and registration limits must hold however many auth instances run.
  await app.register(platformPlugin, { service: 'auth', config, migrationsFolder, identity: false, outbox: true, sharedRateLimits: 'all' })

  const keys = new Keyring(loadSigningKeys(config, (msg) => app.log.warn(msg)))
  const core = new AuthCore(app.db, app.pg, app.nats, app.outbox, keys, config, app.log, auditMetrics(app.metrics))
  app.decorate('authCore', core)
  preloadCommonPasswords()
  const dummyHash = await makeDummyHash()

  const mfa: MfaDeps = {
    pool: app.pg,
    mfaKeys: deriveMfaKeys(loadMfaKey(config, (msg) => app.log.warn(msg))),
    party: webauthnParty(config),
    config
  }

  const allowedOrigins = new Set(splitList(config.ALLOWED_ORIGINS))
  const oidc = { providers: loadOidcProviders(config), origin: mfa.party.origin }
  const ipOf = clientAddress

  // The cookie plugin (parses every request's cookies) only where cookies are read or set;
  // /auth/verify reads its one cookie itself.
  await app.register(async (scope) => {
    await scope.register(cookie)
    await scope.register(credentialRoutes, { core, config, dummyHash, allowedOrigins, ipOf, mfa })
    await scope.register(loginMfaRoutes, { core, config, mfa, allowedOrigins, ipOf })
    await scope.register(accountRoutes, { core, config, ipOf, mfa, oidc })
    await scope.register(oidcRoutes, { core, config, ipOf, mfa, ...oidc })
    await scope.register(passwordResetRoute, { core, config, allowedOrigins, ipOf })
  })
  const tokenUsage = new TokenUsage(app.pg, config.AUTH_TOKEN_REQUESTS_PER_MINUTE, (err) => app.log.warn({ err }, 'recording a token use failed'))
  await app.register(verifyRoute, { core, allowedOrigins, tokenUsage })
  await app.register(jwksRoutes, { core })
  registerNatsHandlers(app, core)

  const prune = setInterval(() => {
    void pruneLoginFailures(app.pg).catch((err) => app.log.warn({ err }, 'pruning login failures failed'))
  }, 10 * 60_000)
  prune.unref()
  app.addHook('onClose', async () => clearInterval(prune))
}

export default fp(authApp, { name: 'palisade-auth', fastify: '5.x' })
