import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { LRUCache } from 'lru-cache'
import { AuthJwksGet, AuthSessionRevoked, ErrorCode, IDENTITY_HEADERS, type AppServiceName, type AssertionClaims } from '@palisade/contracts'
import { verifyAssertion, AssertionError } from '../identity/assertion.js'
import { JwksCache } from '../identity/jwks-client.js'
import { RecentRevocations } from '../identity/revocations.js'
import { natsRequest, natsSubscribe, type CallContext } from '../nats/client.js'
import { ProblemError } from '../problem.js'

export interface Identity {
  userId: string
  sessionId: string
  roles: string[]
  expiresAt: number
}

declare module 'fastify' {
  interface FastifyRequest {
    identity: Identity | null
  }
  interface FastifyContextConfig {
    /** routes that need no identity (health checks, public endpoints) */
    public?: boolean
  }
  interface FastifyInstance {
    identityRevocations: RecentRevocations
  }
}

export interface IdentityPluginOptions {
  service: AppServiceName
  issuer: string
  /** where public keys come from; defaults to auth's `auth.jwks.get` over NATS */
  jwks?: JwksCache
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * Trusts a request only when the proxy-stamped `X-Authenticated-User` is backed by an assertion
 * that auth signed for this very service. Verified assertions are cached by token until they
 * expire (verification costs ~180 µs); a revoked session evicts nothing from the cache but is
 * checked on every hit.
 */
export const identityPlugin = fp<IdentityPluginOptions>(
  async (app, opts) => {
    const jwks = opts.jwks ?? new JwksCache(() => natsRequest(app.nats, AuthJwksGet, {}))
    const verified = new LRUCache<string, AssertionClaims>({ max: 50_000 })
    const revocations = new RecentRevocations()
    app.decorate('identityRevocations', revocations)
    app.decorateRequest('identity', null)

    natsSubscribe(app.nats, AuthSessionRevoked, (ev) => revocations.add(ev.sessionIds), { log: app.log })

    async function authenticate(request: FastifyRequest): Promise<Identity> {
      const user = request.headers[IDENTITY_HEADERS.user]
      const assertion = request.headers[IDENTITY_HEADERS.assertion]
      if (typeof user !== 'string' || typeof assertion !== 'string' || !UUID.test(user)) {
        throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
      }
      let claims = verified.get(assertion)
      if (!claims) {
        try {
          claims = await verifyAssertion(assertion, { issuer: opts.issuer, audience: opts.service, keyFor: (kid) => jwks.keyFor(kid) })
        } catch (err) {
          if (err instanceof AssertionError) {
            request.log.info({ reason: err.message }, 'identity assertion rejected')
            throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
          }
          throw err
        }
        verified.set(assertion, claims, { ttl: Math.max(1, claims.exp * 1000 - Date.now()) })
      } else if (claims.exp * 1000 <= Date.now()) {
        verified.delete(assertion)
        throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
      }
      if (claims.sub !== user.toLowerCase()) throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
      if (revocations.has(claims.sid)) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
      return { userId: claims.sub, sessionId: claims.sid, roles: claims.roles, expiresAt: claims.exp * 1000 }
    }

    app.addHook('onRequest', async (request) => {
      // CORS preflights carry no credentials by design; @fastify/cors answers them.
      if (request.routeOptions.config?.public || request.method === 'OPTIONS') return
      request.identity = await authenticate(request)
    })
  },
  { name: 'palisade-identity', dependencies: ['palisade-nats'] }
)

/** The verified identity of a request on a non-public route. */
export function identityOf(request: FastifyRequest): Identity {
  if (!request.identity) throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
  return request.identity
}

/** NATS call context for acting on behalf of the request's user. */
export function callContextOf(request: FastifyRequest): CallContext {
  const id = identityOf(request)
  return { userId: id.userId, sessionId: id.sessionId, requestId: request.id }
}
