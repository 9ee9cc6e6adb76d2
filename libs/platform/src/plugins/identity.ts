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

    function unauthenticated(): ProblemError {
      return new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
    }

    /** The identity the claims vouch for, if they are still good for this user. */
    function identityFrom(claims: AssertionClaims, user: string): Identity {
      if (claims.sub !== user.toLowerCase()) throw unauthenticated()
      if (revocations.has(claims.sid)) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
      return { userId: claims.sub, sessionId: claims.sid, roles: claims.roles, expiresAt: claims.exp * 1000 }
    }

    function settle(claims: AssertionClaims, user: string, request: FastifyRequest, done: (err?: Error) => void): void {
      try {
        request.identity = identityFrom(claims, user)
      } catch (err) {
        return done(err as Error)
      }
      done()
    }

    async function verifyAndCache(request: FastifyRequest, assertion: string): Promise<AssertionClaims> {
      try {
        const claims = await verifyAssertion(assertion, { issuer: opts.issuer, audience: opts.service, keyFor: (kid) => jwks.keyFor(kid) })
        verified.set(assertion, claims, { ttl: Math.max(1, claims.exp * 1000 - Date.now()) })
        return claims
      } catch (err) {
        if (err instanceof AssertionError) {
          request.log.info({ reason: err.message }, 'identity assertion rejected')
          throw unauthenticated()
        }
        throw err
      }
    }

    // A callback hook: a cached assertion (every request but a session's first few) is checked
    // without a promise, which is measurable on the hottest reads.
    app.addHook('onRequest', (request, _reply, done) => {
      // CORS preflights carry no credentials by design; the security plugin answers them.
      if (request.method === 'OPTIONS' || request.routeOptions.config?.public) return done()
      const user = request.headers[IDENTITY_HEADERS.user]
      const assertion = request.headers[IDENTITY_HEADERS.assertion]
      if (typeof user !== 'string' || typeof assertion !== 'string' || !UUID.test(user)) return done(unauthenticated())
      const cached = verified.get(assertion)
      if (cached === undefined) {
        verifyAndCache(request, assertion).then((claims) => settle(claims, user, request, done), done)
        return
      }
      if (cached.exp * 1000 <= Date.now()) {
        verified.delete(assertion)
        return done(unauthenticated())
      }
      settle(cached, user, request, done)
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
