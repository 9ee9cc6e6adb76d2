import type { Socket } from 'node:net'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ErrorCode, ProblemSchema, protocolBearer, RenewResponseSchema } from '@palisade/contracts'
import { clientLimitKey, identityOf, ProblemError, problems } from '@palisade/platform'
import type { Hub } from '../lib/hub.js'

export interface WsRoutesOptions {
  hub: Hub
  allowedOrigins: string[]
}

/**
 * A socket lives for up to an hour; the HTTP objects of its handshake must not live with it.
 * @fastify/websocket keeps the upgrade's ServerResponse attached to the TCP socket and the request
 * and reply in the socket's error listener, which together hold several KiB per socket (headers
 * twice, the assertion, a child logger, ...). Detach the response and swap the listener for one
 * shared by all sockets.
 */
function releaseUpgradeRequest(socket: WebSocket, request: FastifyRequest, hub: Hub): void {
  const tcp = request.raw.socket as (Socket & { _httpMessage?: { detachSocket?(s: Socket): void } | null }) | undefined
  tcp?._httpMessage?.detachSocket?.(tcp)
  socket.removeAllListeners('error')
  socket.on('error', hub.onSocketError)
}

/**
 * GET /ws with an upgrade: the WebSocket. The platform's identity hook has verified the
 * proxy-stamped identity in `onRequest`, before the upgrade; the preHandler refuses foreign origins
 * and full caps with an HTTP answer, so a refused handshake never becomes a socket.
 *
 * GET /ws without an upgrade: renews the identity lease of the caller's session's sockets (on every
 * gateway instance).
 */
export const wsRoutes: FastifyPluginAsync<WsRoutesOptions> = async (root, opts) => {
  const { hub } = opts
  const app = root.withTypeProvider<TypeBoxTypeProvider>()

  app.route({
    method: 'GET',
    url: '/ws',
    schema: { response: { 200: RenewResponseSchema, '4xx': ProblemSchema } },
    preHandler: async (request) => {
      // Only handshakes open sockets; a plain GET is a renewal and needs none of these checks.
      if (!request.ws) return
      const origin = request.headers.origin
      // Browsers always send Origin on WebSocket handshakes; cross-site ones riding on the ambient
      // cookie are hijacking attempts. A handshake carrying a bearer token (which its client had
      // to hold; auth refuses one beside a cookie) is bound to no Origin.
      const viaBearer = request.headers.authorization !== undefined || protocolBearer(request.headers['sec-websocket-protocol']) !== undefined
      if (!viaBearer && origin !== undefined && !opts.allowedOrigins.includes(origin)) throw problems.forbidden('Origin not allowed', ErrorCode.forbiddenOrigin)
      const id = identityOf(request)
      const verdict = hub.admit(id.userId, clientLimitKey(request))
      if (!verdict.ok) {
        throw new ProblemError(
          429,
          ErrorCode.tooManyRequests,
          verdict.reason === 'user' ? 'Too many connections for this user' : 'Too many connections from this address',
          {
            'retry-after': '5'
          }
        )
      }
    },
    wsHandler: (socket, request) => {
      releaseUpgradeRequest(socket, request, hub)
      const id = identityOf(request)
      const leaseEnd = Math.min(id.expiresAt, Date.now() + hub.settings.GATEWAY_LEASE_MAX_MS)
      hub.add(socket, { userId: id.userId, sessionId: id.sessionId, ip: clientLimitKey(request), leaseEnd })
    },
    /**
     * A plain GET /ws (no upgrade) renews the identity lease of the caller's session's sockets. It
     * passes the edge's ForwardAuth like the handshake did, so it proves the access token is still
     * valid now; the new lease is the fresh assertion's expiry. GET because the edge routes only
     * GET/HEAD to /ws; it only ever extends the caller's own session's sockets.
     */
    handler: async (request, reply) => {
      const id = identityOf(request)
      const leaseEnd = Math.min(id.expiresAt, Date.now() + hub.settings.GATEWAY_LEASE_MAX_MS)
      hub.renew(id.userId, id.sessionId, leaseEnd)
      reply.header('cache-control', 'no-store')
      return { expiresAt: new Date(leaseEnd).toISOString() }
    }
  })
}
