import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { GATEWAY_CLOSE, WS_SUBPROTOCOL } from '@palisade/contracts'
import { completeConfig, platformPlugin, splitList } from '@palisade/platform'
import { GatewayConfigSchema, type GatewayAppConfig } from './config.js'
import { Hub } from './lib/hub.js'
import { serveGatewayNats } from './nats/handlers.js'
import { wsRoutes } from './routes/ws.js'

export { GatewayConfigSchema, type GatewayConfig, type GatewayAppConfig } from './config.js'
export { Hub } from './lib/hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    gatewayHub: Hub
  }
}

/**
 * The realtime gateway: WebSockets at /ws (identity checked at the handshake), client frames turned
 * into NATS calls acting as the socket's user, and each user's `events.user.<id>` relayed to their
 * sockets. Owns no data (no database).
 */
const gatewayApp: FastifyPluginAsync<{ config: GatewayAppConfig }> = async (app, opts) => {
  const config = completeConfig(GatewayConfigSchema, opts.config)
  // @fastify/websocket first: its onRequest hook must mark upgrade requests before the identity
  // hook can refuse one, or the refused handshake's socket is never released.
  let hub: Hub | undefined
  let subs: ReturnType<typeof serveGatewayNats> = []
  await app.register(websocket, {
    options: {
      maxPayload: config.GATEWAY_MAX_PAYLOAD_BYTES,
      // Compression costs ~64 KiB of zlib state per socket and invites compression side channels.
      perMessageDeflate: false,
      clientTracking: false,
      // Only ever `palisade`: a client carrying its token as `palisade.bearer.<token>` offers it
      // beside that, and the token must never be echoed (ws would pick the first offered).
      handleProtocols: (offered: Set<string>) => (offered.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false)
    },
    // Socket errors (bad frames, oversized frames, resets) are the client's doing: ws has already
    // started the right close (1002/1007/1009); log quietly and let it finish.
    errorHandler: (error, socket, request) => {
      request.log.debug({ err: error.message }, 'websocket error')
      if (socket.readyState === socket.OPEN) socket.close(GATEWAY_CLOSE.internalError, 'internal error')
    },
    preClose: async () => {
      await hub?.shutdown(Math.min(2000, config.SHUTDOWN_GRACE_SECONDS * 1000))
      for (const sub of subs) sub.unsubscribe()
    }
  })
  await app.register(platformPlugin, { service: 'gateway', config, database: false })
  hub = new Hub(app, config)
  const watched = hub
  void (async () => {
    for await (const status of app.nats.status()) if (status.type === 'disconnect') watched.natsLost()
  })()
  subs = serveGatewayNats(app, hub)
  app.decorate('gatewayHub', hub)
  await app.register(wsRoutes, {
    hub,
    allowedOrigins: splitList(config.ALLOWED_ORIGINS)
  })
}

export default fp(gatewayApp, { name: 'palisade-gateway', fastify: '5.x' })
