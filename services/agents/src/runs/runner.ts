import { inArray, sql } from 'drizzle-orm'
import { ChatMembersGet, AgentRunEvents, type AgentRunFailedEvent } from '@palisade/contracts'
import { natsPublish, natsRequest } from '@palisade/platform'
import { runs } from '../db/schema.js'
import { RunExecution, type RunDeps, type RunSpec } from './execution.js'
import { RunStop } from './stop.js'

/**
 * The runs this instance executes. It keeps their heartbeat fresh in the database and ends the runs
 * of crashed instances (heartbeat older than three periods) as failed ("interrupted"), at start and
 * then periodically, telling their conversations' members.
 */
export class Runner {
  private readonly active = new Map<string, RunExecution>()
  private heartbeatTimer: NodeJS.Timeout | undefined
  private sweepTimer: NodeJS.Timeout | undefined
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
    this.heartbeatTimer.unref()
    this.sweepTimer.unref()
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

  stopAgentRuns(agentId: string, userId: string): void {
    for (const exec of this.active.values()) {
      if (exec.agentId === agentId && exec.userId === userId) exec.stop(RunStop.cancelled('the agent was deleted'))
    }
  }

  /** On shutdown: end every run here as interrupted (rather than leave it to the sweeper). */
  async close(graceMs: number): Promise<void> {
    this.closing = true
    clearInterval(this.heartbeatTimer)
    clearInterval(this.sweepTimer)
    const all = [...this.active.values()]
    for (const exec of all) exec.stop(RunStop.failed('interrupted', 'the agents service shut down'))
    await Promise.race([Promise.allSettled(all.map((e) => e.done)), new Promise((r) => setTimeout(r, graceMs).unref())])
  }

  private async heartbeat(): Promise<void> {
    if (this.closing || this.active.size === 0) return
    try {
      await this.deps.db.update(runs).set({ heartbeatAt: sql`now()` }).where(inArray(runs.id, [...this.active.keys()]))
    } catch (err) {
      this.deps.log.warn({ err }, 'run heartbeat failed')
    }
  }

  /** Ends runs whose executing instance is gone. Returns how many. */
  async sweep(): Promise<number> {
    if (this.closing) return 0
    const staleMs = this.deps.config.AGENTS_HEARTBEAT_MS * 3
    const local = [...this.active.keys()]
    let ended: { id: string; agentId: string; userId: string; sessionId: string; conversationId: string }[]
    try {
      ended = await this.deps.db
        .update(runs)
        .set({ status: 'failed', failureReason: 'interrupted', failureDetail: 'the run was interrupted (the agents service stopped)', finishedAt: sql`now()` })
        .where(
          sql`${runs.status} = 'running' AND ${runs.heartbeatAt} < now() - make_interval(secs => ${staleMs / 1000})${
            local.length > 0 ? sql` AND NOT (${inArray(runs.id, local)})` : sql``
          }`
        )
        .returning({ id: runs.id, agentId: runs.agentId, userId: runs.userId, sessionId: runs.sessionId, conversationId: runs.conversationId })
    } catch (err) {
      this.deps.log.warn({ err }, 'stale run sweep failed')
      return 0
    }
    for (const r of ended) {
      this.deps.log.warn({ runId: r.id }, 'marked an orphaned run as failed (interrupted)')
      void this.announceInterrupted(r)
    }
    return ended.length
  }

  private async announceInterrupted(r: { id: string; agentId: string; userId: string; sessionId: string; conversationId: string }): Promise<void> {
    try {
      const { memberIds } = await natsRequest(this.deps.nats, ChatMembersGet, { conversationId: r.conversationId }, { userId: r.userId, sessionId: r.sessionId })
      const event: AgentRunFailedEvent = {
        type: 'agent.run.failed',
        at: new Date().toISOString(),
        runId: r.id,
        agentId: r.agentId,
        conversationId: r.conversationId,
        reason: 'interrupted',
        detail: 'the run was interrupted (the agents service stopped)'
      }
      for (const id of memberIds) natsPublish(this.deps.nats, AgentRunEvents, event, `events.user.${id}`)
    } catch {
      // Best effort: the run record is authoritative; clients also see it on GET.
    }
  }
}
