import type { NatsConnection } from '@nats-io/transport-node'
import type { FastifyBaseLogger } from 'fastify'
import { ChatMembersGet, type RunUsage } from '@palisade/contracts'
import { natsRequest, ProblemError, type CallContext, type Database, type Outbox } from '@palisade/platform'
import { recentConversation } from './context.js'
import { postOutput } from './post.js'
import type { AgentsConfig } from '../config.js'
import { finishRun, insertStep, withoutNul, type RunEnd, type RunRow, type StepRow } from '../db/store.js'
import type { ProviderRegistry } from '../providers/registry.js'
import { ProviderError, type ChatMessage, type Provider, type ToolCall, type ToolSpec } from '../providers/types.js'
import type { McpRegistry } from '../mcp/registry.js'
import type { WebFetcher } from '../web/fetcher.js'
import { RunAudience } from './audience.js'
import { DeltaBatcher, MemberFanout } from './events.js'
import { resultStep, RunToolbox } from './toolbox.js'
import type { RunMetrics } from './metrics.js'
import { FlowGuard } from './flow.js'
import { newMarker, systemPrompt, wrapConversation, wrapToolOutput } from './prompt.js'
import { describeStop, RunStop } from './stop.js'

export interface RunDeps {
  nats: NatsConnection
  db: Database
  /** a run's end and its terminal event are written in one transaction */
  outbox: Outbox
  providers: ProviderRegistry
  config: AgentsConfig
  log: FastifyBaseLogger
  /** `web.fetch`, when operations allow any host */
  web: WebFetcher | undefined
  /** MCP servers operations configured, if any */
  mcp: McpRegistry | undefined
  metrics: RunMetrics
}

export interface RunSpec {
  run: RunRow
  instructions: string
  /** built-in tool names and `mcp:<server>/<tool>` refs */
  tools: string[]
  /** egress tools the agent's owner allows to receive conversation or file data */
  dataEgress: string[]
  /** the agent's sampling temperature; null: the provider's default */
  temperature: number | null
  /** the conversation's members when the run was admitted (chat.members.get as the user) */
  memberIds: string[]
}

const AUDIT_CHARS = 4000

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…[truncated ${text.length - max} chars]` : text
}

/**
 * One run, executed in-process: model calls streamed to the conversation's members, tool calls made
 * as the run's user, every step audited, the final text posted to the conversation through chat.
 * Every way out — completion, limit, provider failure, cancellation, timeout — ends in exactly
 * one terminal state and one terminal event; nothing waits without a deadline.
 */
export class RunExecution {
  readonly done: Promise<void>
  private readonly ctl = new AbortController()
  private readonly usage: RunUsage = { inputTokens: 0, outputTokens: 0, modelCalls: 0, toolCalls: 0 }
  /** who receives the run's events; shrinks as members leave (see Runner for how it learns) */
  readonly audience: RunAudience
  /** the information-flow rule: current members and what the run has read */
  readonly flow: FlowGuard
  private readonly fanout: MemberFanout
  private readonly batcher: DeltaBatcher
  private readonly call: CallContext
  private readonly log: FastifyBaseLogger
  private readonly deadline: number
  private seq = 0
  private posting = false
  /** every text token streamed so far (a cancelled run keeps it) */
  private streamed = ''
  /** tests and benchmarks observe token arrival through this */
  onToken: ((text: string) => void) | undefined

  constructor(
    private readonly deps: RunDeps,
    private readonly spec: RunSpec
  ) {
    const { run } = spec
    this.call = { userId: run.userId, sessionId: run.sessionId, requestId: `run-${run.id}` }
    this.audience = new RunAudience(spec.memberIds)
    this.flow = new FlowGuard(deps.nats, this.call, run.conversationId, spec.memberIds, () => this.toolTimeout())
    this.fanout = new MemberFanout(
      deps.nats,
      { runId: run.id, agentId: run.agentId, agentName: run.agentName, conversationId: run.conversationId },
      this.audience
    )
    this.batcher = new DeltaBatcher(this.fanout, deps.config.AGENTS_DELTA_FLUSH_MS)
    this.log = deps.log.child({ runId: run.id, agentId: run.agentId })
    this.deadline = run.createdAt.getTime() + run.limits.runTimeoutMs
    this.done = Promise.resolve().then(() => this.execute())
  }

  get id(): string {
    return this.spec.run.id
  }

  get userId(): string {
    return this.spec.run.userId
  }

  get sessionId(): string {
    return this.spec.run.sessionId
  }

  get agentId(): string {
    return this.spec.run.agentId
  }

  get conversationId(): string {
    return this.spec.run.conversationId
  }

  /** the run's identity, for calls made on its behalf */
  get callContext(): CallContext {
    return this.call
  }

  /**
   * `userId` is no longer a member: nothing more of the run goes to them. When it is the run's own
   * user the run loses the authority it acts with and stops; the others hear that it failed.
   */
  memberRemoved(userId: string): void {
    this.audience.remove(userId)
    this.flow.removeMember(userId)
    if (userId === this.userId) this.stop(RunStop.failed('access_revoked', 'the user is no longer a member of the conversation'))
  }

  /**
   * Someone joined: they do not join the stream (the audience only shrinks), but the run's output
   * will be posted where they read it, so everything read so far must be readable by them too.
   */
  memberAdded(userId: string): void {
    if (this.flow.addMember(userId)) void this.recheckFlow()
  }

  /** A fresh member list from chat (the periodic re-check, in case an event was lost). */
  membersRead(memberIds: readonly string[]): void {
    this.audience.retain(memberIds)
    if (this.flow.setMembers(memberIds).length > 0) void this.recheckFlow()
  }

  /** Stops the run unless every current member can read every source it has read. */
  private async recheckFlow(): Promise<boolean> {
    if (!this.flow.readBeyondConversation) return true
    let ok: boolean
    try {
      ok = (await this.flow.recheck()) === undefined
    } catch (err) {
      // Unverifiable is treated as not readable: the run stops rather than risk the newcomer.
      this.log.warn({ err }, 'could not re-check what a run read against new members')
      ok = false
    }
    if (!ok) {
      this.stop(RunStop.failed('audience_changed', 'a member joined who cannot read everything the run has read, so the run stopped'))
    }
    return ok
  }

  /**
   * Last check before the output is posted where every member reads it: the members as chat has
   * them now, against everything read. Only needed when the run read beyond its conversation.
   */
  private async confirmAudience(): Promise<void> {
    if (!this.flow.readBeyondConversation) return
    const { memberIds } = await natsRequest(this.deps.nats, ChatMembersGet, { conversationId: this.conversationId }, this.call, this.toolTimeout())
    this.audience.retain(memberIds)
    this.flow.setMembers(memberIds)
    if (!(await this.recheckFlow())) this.ctl.signal.throwIfAborted()
  }

  /** The conversation was deleted (or the run's user can no longer see it): the run ends unheard. */
  conversationGone(): void {
    this.audience.clear()
    this.stop(RunStop.failed('access_revoked', 'the conversation is no longer available to the user'))
  }

  /** Stops the run (provider stream included). False when it is too late: the output is being posted. */
  stop(reason: RunStop): boolean {
    if (this.posting || this.ctl.signal.aborted) return false
    this.ctl.abort(reason)
    return true
  }

  private async execute(): Promise<void> {
    const { run } = this.spec
    const wall = setTimeout(
      () => this.stop(RunStop.failed('run_timeout', `the run took longer than ${run.limits.runTimeoutMs} ms`)),
      Math.max(0, this.deadline - Date.now())
    )
    let end: RunEnd
    try {
      const output = await this.loop()
      await this.confirmAudience()
      this.ctl.signal.throwIfAborted()
      this.posting = true
      this.batcher.flush()
      // What the run read beyond its conversation was checked against these members: chat posts
      // only if nobody else has joined by the time it inserts (under the conversation's lock).
      const checked = this.flow.readBeyondConversation ? this.flow.memberIds : undefined
      const posted = await postOutput(this.deps.nats, this.log, run, this.call, this.usage, output, checked)
      if (posted.memberIds) this.audience.retain(posted.memberIds)
      end = posted
    } catch (err) {
      end = this.failure(err)
    } finally {
      clearTimeout(wall)
    }
    if (end.status !== 'completed') this.batcher.discard()
    try {
      if (!(await this.finish(end))) {
        this.log.warn('run was already ended elsewhere (stale heartbeat)')
        return
      }
    } catch (err) {
      this.log.error({ err }, 'could not record the end of a run')
      // Record at least that it ended (else it stays `running` until the sweeper finds it).
      end = { status: 'failed', usage: end.usage, failureReason: 'internal', failureDetail: 'internal error' }
      await this.finish(end).catch(() => {})
    }
    const m = this.deps.metrics
    m.runs.inc({ outcome: end.status })
    m.tokens.inc({ kind: 'input' }, end.usage.inputTokens)
    m.tokens.inc({ kind: 'output' }, end.usage.outputTokens)
    this.log.info({ status: end.status, reason: end.failureReason, usage: end.usage }, 'agent run ended')
  }

  /**
   * Records the run's end and its terminal event in one transaction (the outbox): members hear how
   * the run ended even when this process dies right after the commit. False: ended elsewhere already.
   */
  private finish(end: RunEnd): Promise<boolean> {
    return this.deps.outbox.drizzle(async (db, emit) => {
      if (!(await finishRun(db, this.id, end))) return false
      if (end.status === 'completed') this.fanout.emit(emit, { type: 'agent.run.completed', messageId: end.messageId!, usage: end.usage })
      else if (end.status === 'cancelled') this.fanout.emit(emit, { type: 'agent.run.cancelled' })
      else this.fanout.emit(emit, { type: 'agent.run.failed', reason: end.failureReason!, detail: (end.failureDetail ?? '').slice(0, 512) })
      return true
    })
  }

  private failure(err: unknown): RunEnd {
    const usage = { ...this.usage }
    const stop = this.ctl.signal.aborted ? (this.ctl.signal.reason as unknown) : err
    if (stop instanceof RunStop) {
      // The partial text stays with the run: the user who ran it sees it, marked, after a reload.
      if (stop.status === 'cancelled') return { status: 'cancelled', usage, ...(this.streamed ? { output: withoutNul(this.streamed) } : {}) }
      return { status: 'failed', usage, failureReason: stop.reason as RunEnd['failureReason'], failureDetail: stop.message }
    }
    if (stop instanceof ProviderError) {
      return { status: 'failed', usage, failureReason: stop.reason, failureDetail: this.deps.providers.redact(stop.message) }
    }
    this.log.error({ err: stop }, 'agent run failed unexpectedly')
    return { status: 'failed', usage, failureReason: 'internal', failureDetail: 'internal error' }
  }

  private toolTimeout(): number {
    return Math.max(1, Math.min(this.spec.run.limits.callTimeoutMs, this.deadline - Date.now()))
  }

  private async step(kind: StepRow['kind'], data: Record<string, unknown>, durationMs?: number): Promise<void> {
    await insertStep(this.deps.db, { runId: this.spec.run.id, seq: this.seq++, kind, data, ...(durationMs !== undefined ? { durationMs } : {}) })
  }

  private async loop(): Promise<string> {
    const { run } = this.spec
    const limits = run.limits
    const provider = this.deps.providers.get(run.provider)
    if (!provider) throw RunStop.failed('provider_unavailable', `provider ${run.provider} is not configured`)
    if (!provider.models.includes(run.model)) throw RunStop.failed('provider_error', `provider ${run.provider} does not offer model ${run.model}`)
    const toolbox = await RunToolbox.open(limits.maxToolCalls > 0 ? this.spec.tools : [], this.deps.mcp, this.ctl.signal)
    if (toolbox.unavailable.length > 0) this.log.warn({ servers: toolbox.unavailable }, 'MCP servers unavailable; the run goes on without their tools')
    const specs = toolbox.specs
    const marker = newMarker()
    const messages: ChatMessage[] = [{ role: 'system', content: systemPrompt(this.spec.instructions, marker, toolbox.names) }]
    const context = await this.conversation(marker)
    if (context) messages.push({ role: 'user', content: context.text })
    messages.push({ role: 'user', content: run.input })
    let output = ''
    // Strict tool flow confines after untrusted tool output. Others' messages in the context do not
    // confine: the information-flow rule already keeps every read to what all members can read.
    let confined = false
    for (let step = 1; ; step++) {
      if (step > limits.maxSteps) throw RunStop.failed('max_steps', `the model still wanted tools after ${limits.maxSteps} model calls`)
      const result = await this.modelCall(provider, messages, specs)
      output += result.text
      messages.push({ role: 'assistant', content: result.text, ...(result.calls.length > 0 ? { toolCalls: result.calls } : {}) })
      if (result.calls.length === 0) return output
      for (const call of result.calls) {
        if (this.usage.toolCalls >= limits.maxToolCalls) {
          throw RunStop.failed('max_tool_calls', `the model asked for more than ${limits.maxToolCalls} tool calls`)
        }
        this.usage.toolCalls++
        // An egress call is recorded whole (arguments are at most 16 KiB): what left the platform.
        const egress = toolbox.isEgress(call.name)
        await this.step('tool_call', {
          callId: call.id,
          tool: call.name,
          arguments: egress ? call.arguments : clip(call.arguments, AUDIT_CHARS),
          ...(egress ? { egress: true, afterReading: this.flow.tainted } : {})
        })
        const t0 = Date.now()
        const outcome = await toolbox.call(call, {
          nats: this.deps.nats,
          call: this.call,
          conversationId: run.conversationId,
          timeoutMs: this.toolTimeout(),
          confined,
          flow: this.flow,
          dataEgress: this.spec.dataEgress,
          web: this.deps.web,
          signal: this.ctl.signal
        })
        this.deps.metrics.toolCalls.inc({ tool: toolbox.names.includes(call.name) ? call.name : 'unknown', outcome: outcome.ok ? 'ok' : 'error' })
        const body = outcome.ok ? clip(JSON.stringify(outcome.output), this.deps.config.AGENTS_TOOL_OUTPUT_MAX_CHARS) : JSON.stringify({ error: outcome.error })
        await this.step(
          'tool_result',
          resultStep(call, outcome, body, (b) => clip(b, AUDIT_CHARS)),
          Date.now() - t0
        )
        messages.push({ role: 'tool', toolCallId: call.id, name: call.name, content: wrapToolOutput(marker, outcome.tool ?? call.name, body) })
        if (outcome.ok && this.deps.config.AGENTS_STRICT_TOOL_FLOW) confined = true
      }
    }
  }

  /** The recent conversation for the model (untrusted data), within the operator's token budget. */
  private async conversation(marker: string): Promise<{ text: string } | undefined> {
    const budget = this.deps.config.AGENTS_CONTEXT_TOKENS
    if (budget === 0) return undefined
    try {
      const recent = await recentConversation(this.deps.nats, this.call, this.conversationId, budget, this.toolTimeout())
      if (recent.lines.length === 0) return undefined
      // Always readable by its own members; recorded as read all the same (egress rule).
      await this.flow.admit({ kind: 'conversation', id: this.conversationId })
      return { text: wrapConversation(marker, recent.lines, recent.omitted) }
    } catch (err) {
      if (err instanceof ProblemError && err.statusCode === 404) throw RunStop.failed('access_revoked', 'the user is no longer a member of the conversation')
      this.log.warn({ err }, 'could not read the recent conversation; the run goes on without it')
      return undefined
    }
  }

  private async modelCall(provider: Provider, messages: ChatMessage[], tools: ToolSpec[]): Promise<{ text: string; calls: ToolCall[] }> {
    const { run } = this.spec
    const limits = run.limits
    const budget = limits.maxOutputTokens - this.usage.outputTokens
    if (budget <= 0) throw RunStop.failed('max_output_tokens', `the run reached its limit of ${limits.maxOutputTokens} output tokens`)
    const callCtl = new AbortController()
    const timer = setTimeout(
      () => callCtl.abort(RunStop.failed('call_timeout', `the model did not finish a call within ${limits.callTimeoutMs} ms`)),
      limits.callTimeoutMs
    )
    const signal = AbortSignal.any([this.ctl.signal, callCtl.signal])
    const t0 = Date.now()
    this.usage.modelCalls++
    let text = ''
    const calls: ToolCall[] = []
    let tokens = 0
    let reported: { inputTokens: number; outputTokens: number } | undefined
    let finish = 'stop'
    let completed = false
    try {
      for await (const ev of provider.stream({ model: run.model, messages, tools, maxTokens: budget, temperature: this.spec.temperature, signal })) {
        if (ev.type === 'text' || ev.type === 'tool_delta') {
          if (++tokens > budget) throw RunStop.failed('max_output_tokens', `the run reached its limit of ${limits.maxOutputTokens} output tokens`)
          if (ev.type === 'text') {
            text += ev.text
            this.streamed += ev.text
            this.batcher.push(ev.text)
            this.onToken?.(ev.text)
          }
        } else if (ev.type === 'tool_call') calls.push(ev.call)
        else if (ev.type === 'usage') reported = ev
        else finish = ev.reason
      }
      completed = true
    } catch (err) {
      const stop = !this.ctl.signal.aborted && callCtl.signal.aborted ? (callCtl.signal.reason as unknown) : err
      this.usage.outputTokens += tokens
      await this.step(
        'model_call',
        {
          provider: run.provider,
          model: run.model,
          outputTokens: tokens,
          error: describeStop(this.deps.providers, this.ctl.signal.aborted ? this.ctl.signal.reason : stop)
        },
        Date.now() - t0
      ).catch(() => {})
      throw stop
    } finally {
      clearTimeout(timer)
      // Closes the provider connection when the call ended early (limit, error). Not after a
      // complete stream: an abort allocates a DOMException with a stack, on every model call.
      if (!completed && !callCtl.signal.aborted) callCtl.abort()
    }
    const outputTokens = Math.max(tokens, reported?.outputTokens ?? 0)
    this.usage.outputTokens += outputTokens
    this.usage.inputTokens += reported?.inputTokens ?? 0
    await this.step(
      'model_call',
      {
        provider: run.provider,
        model: run.model,
        finishReason: finish.slice(0, 32),
        inputTokens: reported?.inputTokens ?? 0,
        outputTokens,
        textChars: text.length,
        toolCalls: calls.map((c) => c.name.slice(0, 64))
      },
      Date.now() - t0
    )
    if (finish === 'length' || this.usage.outputTokens > limits.maxOutputTokens) {
      throw RunStop.failed('max_output_tokens', `the run reached its limit of ${limits.maxOutputTokens} output tokens`)
    }
    return { text, calls }
  }
}
