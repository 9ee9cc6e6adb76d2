import { and, inArray, sql } from 'drizzle-orm'
import { ChatMembersGet, userEventsSubject, type AgentRunFailedEvent, type MembershipChangedEvent } from '@palisade/contracts'
import { natsRequest, ProblemError } from '@palisade/platform'
import { runs } from '../db/schema.js'
import { RunExecution, type RunDeps, type RunSpec } from './execution.js'
import { RunStop } from './stop.js'

type StaleRun = { id: string; agentId: string; agentName: string; userId: string; sessionId: string; conversationId: string }

/**
 * The runs this instance executes. It keeps their heartbeat fresh in the database and ends the runs
 * of crashed instances (heartbeat older than three periods) as failed ("interrupted"), at start and
 * then periodically, telling their conversations' members.
 *
 * It also keeps each run's audience to the conversation's current members: chat's membership events
 * (heard by every instance) act at once, and a periodic re-read of the member list as the run's user
 * bounds how long a lost event can matter.
 */
export class Runner {
  private readonly active = new Map<string, RunExecution>()
  private heartbeatTimer: NodeJS.Timeout | undefined
  private sweepTimer: NodeJS.Timeout | undefined
  private membersTimer: NodeJS.Timeout | undefined
  private readonly rechecking = new Set<string>()
  private closing = false
  /** called with every new execution (tests and benchmarks watch tokens through it) */
  onStart: ((exec: RunExecution) => void) | undefined

  constructor(private readonly deps: RunDeps) {}

  get size(): number {
    return this.active.size
  }

  async startTimers(): Promise<void> {
    const period = this.deps.config.AGENTS_HEARTBEAT_MS
    await this.sweep()
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), period)
    this.sweepTimer = setInterval(() => void this.sweep(), period * 3)
    // Members are re-read at the heartbeat's pace: one period bounds how long a lost event matters.
    this.membersTimer = setInterval(() => void this.recheckMembers(), period)
    this.heartbeatTimer.unref()
    this.sweepTimer.unref()
    this.membersTimer.unref()
  }

  start(spec: RunSpec): RunExecution {
    const exec = new RunExecution(this.deps, spec)
    this.active.set(exec.id, exec)
    this.onStart?.(exec)
    void exec.done.finally(() => this.active.delete(exec.id))
    return exec
  }

  get(runId: string): RunExecution | undefined {
    return this.active.get(runId)
  }

  /** Stops a run of `userId` executing here. False when it is not here or is already posting. */
  stopLocal(runId: string, userId: string, reason: RunStop): RunExecution | undefined {
    const exec = this.active.get(runId)
    if (!exec || exec.userId !== userId) return undefined
    return exec.stop(reason) ? exec : undefined
  }

  /** A session was revoked: its runs lose the authority they act with. */
  revokeSessions(sessionIds: readonly string[]): void {
    const revoked = new Set(sessionIds)
    for (const exec of this.active.values()) {
      if (revoked.has(exec.sessionId)) exec.stop(RunStop.failed('access_revoked', "the user's session was revoked"))
    }
  }

  /** chat's `chat.membership.changed`: applied to the runs here in that conversation. */
  membershipChanged(ev: MembershipChangedEvent): void {
    for (const exec of this.active.values()) {
      if (exec.conversationId !== ev.conversationId) continue
      if (ev.type === 'conversation.deleted') exec.conversationGone()
      else if (ev.type === 'member.added') exec.memberAdded(ev.userId)
      else exec.memberRemoved(ev.userId)
    }
  }

  /**
   * Re-reads each run's member list from chat (as the run's user), for the case an event was lost.
   * A 404 means the user left or the conversation is gone: the run ends and the rest of its audience
   * is told, as when the user's own removal event arrives (this re-read can beat that event; ending
   * the run unheard then left the others waiting). After a deletion the gateway drops the frame for
   * those who saw `conversation.deleted`. When chat cannot answer, the audience stays as last known.
   */
  async recheckMembers(): Promise<void> {
    if (this.closing) return
    await Promise.allSettled(
      [...this.active.values()].map(async (exec) => {
        if (this.rechecking.has(exec.id)) return
        this.rechecking.add(exec.id)
        try {
          const { memberIds } = await natsRequest(this.deps.nats, ChatMembersGet, { conversationId: exec.conversationId }, exec.callContext)
          if (!memberIds.includes(exec.userId)) exec.memberRemoved(exec.userId)
          else exec.membersRead(memberIds)
        } catch (err) {
          if (err instanceof ProblemError && err.statusCode === 404) exec.memberRemoved(exec.userId)
          else this.deps.log.warn({ err, runId: exec.id }, 'could not re-check the members of a run')
        } finally {
          this.rechecking.delete(exec.id)
        }
      })
    )
  }

  /** The agent was deleted: every run of it here stops, whoever started it. */
  stopAgentRuns(agentId: string): void {
    for (const exec of this.active.values()) {
      if (exec.agentId === agentId) exec.stop(RunStop.cancelled('the agent was deleted'))
    }
  }

  /** The agent is no longer shared: runs of it by anyone but its owner stop. */
  stopSharedRuns(agentId: string, ownerId: string): void {
    for (const exec of this.active.values()) {
      if (exec.agentId === agentId && exec.userId !== ownerId)
        exec.stop(RunStop.failed('access_revoked', 'the agent is no longer shared with this conversation'))
    }
  }

  /** On shutdown: end every run here as interrupted (rather than leave it to the sweeper). */
  async close(graceMs: number): Promise<void> {
    this.closing = true
    clearInterval(this.heartbeatTimer)
    clearInterval(this.sweepTimer)
    clearInterval(this.membersTimer)
    const all = [...this.active.values()]
    for (const exec of all) exec.stop(RunStop.failed('interrupted', 'the agents service shut down'))
    await Promise.race([Promise.allSettled(all.map((e) => e.done)), new Promise((r) => setTimeout(r, graceMs).unref())])
  }

  private async heartbeat(): Promise<void> {
    if (this.closing || this.active.size === 0) return
    try {
      await this.deps.db
        .update(runs)
        .set({ heartbeatAt: sql`now()` })
        .where(inArray(runs.id, [...this.active.keys()]))
    } catch (err) {
      this.deps.log.warn({ err }, 'run heartbeat failed')
    }
  }

  /**
   * Ends runs whose executing instance is gone, telling their conversations' members in the same
   * transaction (the outbox). The members are asked first, outside the transaction; a run whose
   * members chat cannot tell right now waits for the next sweep, so its event is never dropped.
   * Returns how many runs ended.
   */
  async sweep(): Promise<number> {
    if (this.closing) return 0
    const staleMs = this.deps.config.AGENTS_HEARTBEAT_MS * 3
    const local = [...this.active.keys()]
    const stale = sql`${runs.status} = 'running' AND ${runs.heartbeatAt} < now() - make_interval(secs => ${staleMs / 1000})${
      local.length > 0 ? sql` AND NOT (${inArray(runs.id, local)})` : sql``
    }`
    const columns = {
      id: runs.id,
      agentId: runs.agentId,
      agentName: runs.agentName,
      userId: runs.userId,
      sessionId: runs.sessionId,
      conversationId: runs.conversationId
    }
    try {
      const candidates: StaleRun[] = await this.deps.db.select(columns).from(runs).where(stale)
      if (candidates.length === 0) return 0
      const audiences = new Map<string, string[]>()
      await Promise.all(
        candidates.map(async (r) => {
          const members = await this.membersOf(r)
          if (members) audiences.set(r.id, members)
        })
      )
      if (audiences.size === 0) return 0
      const ended = await this.deps.outbox.drizzle(async (db, emit) => {
        const rows = await db
          .update(runs)
          .set({ status: 'failed', failureReason: 'interrupted', failureDetail: INTERRUPTED, finishedAt: sql`now()` })
          .where(and(inArray(runs.id, [...audiences.keys()]), stale))
          .returning(columns)
        for (const r of rows) emit(audiences.get(r.id)!.map(userEventsSubject), interruptedEvent(r))
        return rows
      })
      for (const r of ended) this.deps.log.warn({ runId: r.id }, 'marked an orphaned run as failed (interrupted)')
      return ended.length
    } catch (err) {
      this.deps.log.warn({ err }, 'stale run sweep failed')
      return 0
    }
  }

  /** Who hears that an orphaned run ended: its conversation's members, none when the user can no longer see it; undefined when chat cannot tell now. */
  private async membersOf(r: StaleRun): Promise<string[] | undefined> {
    try {
      return (await natsRequest(this.deps.nats, ChatMembersGet, { conversationId: r.conversationId }, { userId: r.userId, sessionId: r.sessionId })).memberIds
    } catch (err) {
      if (err instanceof ProblemError && err.statusCode === 404) return []
      this.deps.log.warn({ err, runId: r.id }, 'could not read the members of an orphaned run; it ends at the next sweep')
      return undefined
    }
  }
}

const INTERRUPTED = 'the run was interrupted (the agents service stopped)'

function interruptedEvent(r: StaleRun): AgentRunFailedEvent {
  return {
    type: 'agent.run.failed',
    at: new Date().toISOString(),
    runId: r.id,
    agentId: r.agentId,
    agentName: r.agentName,
    conversationId: r.conversationId,
    reason: 'interrupted',
    detail: INTERRUPTED
  }
}
