import type { FastifyInstance } from 'fastify'
import type { Subscription } from '@nats-io/transport-node'
import { AgentsRunCancel, AuthSessionRevoked, ChatMembershipChanged, type MembershipChangedEvent } from '@palisade/contracts'
import { natsSubscribe } from '@palisade/platform'
import { endSharing } from '../db/sharing.js'
import type { Runner } from '../runs/runner.js'
import { RunStop } from '../runs/stop.js'

/**
 * - `auth.session.revoked`: runs acting for those sessions stop.
 * - `agents.run.cancel`: the instance executing the run stops it (the HTTP cancel may land on another).
 * - `chat.membership.changed`: a run's audience follows its conversation's members, and an agent
 *   shared with a conversation stops being shared when its owner leaves or the conversation goes.
 */
export function serveAgentsNats(app: FastifyInstance, runner: Runner): Subscription[] {
  const log = app.log
  return [
    natsSubscribe(app.nats, AuthSessionRevoked, (ev) => runner.revokeSessions(ev.sessionIds), { log }),
    natsSubscribe(app.nats, AgentsRunCancel, (ev) => void runner.stopLocal(ev.runId, ev.userId, RunStop.cancelled()), { log }),
    // No queue group: whichever instance executes a run in that conversation must hear it.
    natsSubscribe(
      app.nats,
      ChatMembershipChanged,
      (ev) => {
        runner.membershipChanged(ev)
        void endSharingOnLeave(app, runner, ev)
      },
      { log }
    )
  ]
}

/** Every instance hears the event; the update is idempotent, and each stops the runs it executes. */
async function endSharingOnLeave(app: FastifyInstance, runner: Runner, ev: MembershipChangedEvent): Promise<void> {
  if (ev.type === 'member.added') return
  try {
    const ended = await endSharing(app.db, { conversationId: ev.conversationId, ...(ev.type === 'member.removed' ? { ownerId: ev.userId } : {}) })
    for (const a of ended) runner.stopSharedRuns(a.id, a.ownerId)
  } catch (err) {
    // Run starts re-check the owner's membership, so a missed update ends the sharing there.
    app.log.warn({ err, conversationId: ev.conversationId }, 'could not end the sharing of agents')
  }
}
