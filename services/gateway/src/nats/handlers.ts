import type { FastifyInstance } from 'fastify'
import type { Subscription } from '@nats-io/transport-node'
import { AuthSessionRevoked, GatewayLeaseRenewed } from '@palisade/contracts'
import { natsSubscribe } from '@palisade/platform'
import type { Hub } from '../lib/hub.js'

/**
 * Every instance hears every revocation and lease renewal (no queue group): whichever holds the
 * session's sockets closes or renews them. Each user's `events.user.<id>` is subscribed by the hub
 * itself, while that user has a socket here.
 */
export function serveGatewayNats(app: FastifyInstance, hub: Hub): Subscription[] {
  const log = app.log
  return [
    natsSubscribe(app.nats, AuthSessionRevoked, (ev) => hub.revoke(ev.sessionIds), { log }),
    natsSubscribe(app.nats, GatewayLeaseRenewed, (ev) => void hub.renewLocal(ev.userId, ev.sessionId, ev.expiresAt), { log })
  ]
}
