import type { NatsConnection } from '@nats-io/transport-node'
import type { Static, TSchema } from 'typebox'
import type { AgentToolName } from '@palisade/contracts'
import type { CallContext } from '@palisade/platform'
import type { FlowGuard } from '../runs/flow.js'
import type { WebFetcher } from '../web/fetcher.js'

/** Everything a tool may use: the acting user's identity, this run's conversation, a deadline. */
export interface ToolContext {
  nats: NatsConnection
  /** the run's user: every NATS call carries it, so a tool never sees more than that user can */
  call: CallContext
  conversationId: string
  timeoutMs: number
  /**
   * true once untrusted tool output has reached the model (with strict tool flow on): from then on
   * tools may only touch what every member of this conversation can already see
   */
  confined: boolean
  /** the information-flow rule: every source a tool reads must be readable by every current member */
  flow: FlowGuard
  /** egress tools the agent's owner allows to receive conversation or file data */
  dataEgress: readonly string[]
  /** `web.fetch`, when operations allow any host */
  web: WebFetcher | undefined
  /** the run's (or this call's) end */
  signal: AbortSignal
}

/** A tool call the service will not make; the model is told why and the run goes on. */
export class ToolRefusal extends Error {
  override name = 'ToolRefusal'
  constructor(
    message: string,
    /** the rule that refused it, for the audit trail */
    readonly rule?: 'information_flow' | 'confinement' | 'egress'
  ) {
    super(message)
  }
}

export interface ToolDefinition<S extends TSchema = TSchema> {
  name: AgentToolName
  /** function name offered to the model (providers allow only `[A-Za-z0-9_-]`) */
  fn: string
  description: string
  /** sends what the model gives it off the platform (rule: the owner's `dataEgress` once data was read) */
  egress?: true
  args: S
  run(args: Static<S>, ctx: ToolContext): Promise<unknown>
}
