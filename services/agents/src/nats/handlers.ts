import type { FastifyInstance } from 'fastify'
import type { Subscription } from '@nats-io/transport-node'
import { AgentsRunCancel, AuthSessionRevoked, ChatMembershipChanged } from '@palisade/contracts'
import { natsSubscribe } from '@palisade/platform'
import type { Runner } from '../runs/runner.js'
import { RunStop } from '../runs/stop.js'

/**
 * - `auth.session.revoked`: runs acting for those sessions stop.
 * - `agents.run.cancel`: the instance executing the run stops it (the HTTP cancel may land on another).
 * - `chat.membership.changed`: a run's audience follows its conversation's members.
 */
export function serveAgentsNats(app: FastifyInstance, runner: Runner): Subscription[] {
  const log = app.log
  return [
    natsSubscribe(app.nats, AuthSessionRevoked, (ev) => runner.revokeSessions(ev.sessionIds), { log }),
    natsSubscribe(app.nats, AgentsRunCancel, (ev) => void runner.stopLocal(ev.runId, ev.userId, RunStop.cancelled()), { log }),
    // No queue group: whichever instance executes a run in that conversation must hear it.
    natsSubscribe(app.nats, ChatMembershipChanged, (ev) => runner.membershipChanged(ev), { log })
  ]
}
