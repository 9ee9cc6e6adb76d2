// Contracts of the agents service: HTTP bodies under /api/agents, the events it publishes to
// members' `events.user.<id>` subjects, and its internal NATS subjects.
import { Type, type Static } from 'typebox'
import { IsoDateSchema, UuidSchema, CursorSchema } from './common.js'
import type { NatsEvent } from './nats.js'

/** Tools an agent may be given. Closed list: nothing here can start another agent. */
export const AGENT_TOOL_NAMES = ['chat.search', 'chat.history', 'files.read', 'web.fetch'] as const
export type AgentToolName = (typeof AGENT_TOOL_NAMES)[number]
export const AgentToolNameSchema = Type.Union([
  Type.Literal('chat.search'),
  Type.Literal('chat.history'),
  Type.Literal('files.read'),
  Type.Literal('web.fetch')
])
/**
 * Tools that send what the model gives them off the platform. Once a run has read conversation or
 * file data, it may call one only if the agent's owner listed it in `dataEgress`.
 */
export const EGRESS_TOOL_NAMES = ['web.fetch'] as const satisfies readonly AgentToolName[]

/**
 * A tool of an MCP server operations configured: `mcp:<server id>/<tool name>`. Only tools the
 * operator allowed for that server are accepted. A server on another host is egress too.
 */
export const MCP_TOOL_PATTERN = '^mcp:[a-z0-9][a-z0-9_-]{0,31}/[A-Za-z0-9_.-]{1,64}$'
export const McpToolRefSchema = Type.String({ maxLength: 100, pattern: MCP_TOOL_PATTERN })
/** Any tool an agent may list: a built-in one or an MCP server's. */
export const AgentToolRefSchema = Type.Union([AgentToolNameSchema, McpToolRefSchema])
export type AgentToolRef = AgentToolName | `mcp:${string}`
export const AGENT_TOOLS_MAX = 32

export const AGENT_INSTRUCTIONS_MAX = 20_000
export const AGENT_RUN_INPUT_MAX = 8_000

const ProviderIdSchema = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_-]*$' })
const ModelIdSchema = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/@-]*$' })
const AgentNameSchema = Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })
/** Printable text: no NUL or other C0 controls except tab, line feed and carriage return. */
const TEXT_PATTERN = '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$'

/**
 * Per-agent limits. Each is optional; the service applies min(agent value, operator ceiling), so a
 * user can only tighten what operations allow, never loosen it.
 */
export const AgentLimitsSchema = Type.Object(
  {
    maxSteps: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
    maxToolCalls: Type.Optional(Type.Integer({ minimum: 0, maximum: 50 })),
    callTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
    runTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
    maxOutputTokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 200_000 }))
  },
  { additionalProperties: false }
)
export type AgentLimits = Static<typeof AgentLimitsSchema>

/** Limits in force for a run (every value resolved). */
export const EffectiveLimitsSchema = Type.Object(
  {
    maxSteps: Type.Integer(),
    maxToolCalls: Type.Integer(),
    callTimeoutMs: Type.Integer(),
    runTimeoutMs: Type.Integer(),
    maxOutputTokens: Type.Integer()
  },
  { additionalProperties: false }
)
export type EffectiveLimits = Static<typeof EffectiveLimitsSchema>

/**
 * The conversation an agent is shared with (any current member may run it; only its owner edits
 * it), or null: private. The owner must be a member; the sharing ends when they leave.
 */
const SharedConversationSchema = Type.Union([Type.Null(), UuidSchema])

const ToolListSchema = Type.Array(AgentToolRefSchema, { maxItems: AGENT_TOOLS_MAX, uniqueItems: true })
/** Egress tools of the agent that may receive conversation or file data (each must be in `tools`). */
const DataEgressSchema = Type.Array(AgentToolRefSchema, { maxItems: AGENT_TOOLS_MAX, uniqueItems: true })

export const CreateAgentBodySchema = Type.Object(
  {
    name: AgentNameSchema,
    instructions: Type.String({ maxLength: AGENT_INSTRUCTIONS_MAX, pattern: TEXT_PATTERN, default: '' }),
    /** provider id configured by operations; defaults to the service's default provider */
    provider: Type.Optional(ProviderIdSchema),
    model: Type.Optional(ModelIdSchema),
    tools: Type.Optional(ToolListSchema),
    dataEgress: Type.Optional(DataEgressSchema),
    /** sampling temperature sent to the provider; absent: the provider's default */
    temperature: Type.Optional(Type.Union([Type.Null(), Type.Number({ minimum: 0, maximum: 2 })])),
    limits: Type.Optional(AgentLimitsSchema),
    sharedConversationId: Type.Optional(SharedConversationSchema)
  },
  { additionalProperties: false }
)
export type CreateAgentBody = Static<typeof CreateAgentBodySchema>

export const UpdateAgentBodySchema = Type.Object(
  {
    name: Type.Optional(AgentNameSchema),
    instructions: Type.Optional(Type.String({ maxLength: AGENT_INSTRUCTIONS_MAX, pattern: TEXT_PATTERN })),
    provider: Type.Optional(ProviderIdSchema),
    model: Type.Optional(ModelIdSchema),
    tools: Type.Optional(ToolListSchema),
    dataEgress: Type.Optional(DataEgressSchema),
    /** null: back to the provider's default */
    temperature: Type.Optional(Type.Union([Type.Null(), Type.Number({ minimum: 0, maximum: 2 })])),
    limits: Type.Optional(AgentLimitsSchema),
    /** null: private again */
    sharedConversationId: Type.Optional(SharedConversationSchema)
  },
  { additionalProperties: false, minProperties: 1 }
)
export type UpdateAgentBody = Static<typeof UpdateAgentBodySchema>

export const AgentSchema = Type.Object(
  {
    id: UuidSchema,
    name: Type.String(),
    instructions: Type.String(),
    provider: Type.String(),
    model: Type.String(),
    tools: Type.Array(AgentToolRefSchema),
    dataEgress: Type.Array(AgentToolRefSchema),
    temperature: Type.Union([Type.Number(), Type.Null()]),
    limits: AgentLimitsSchema,
    sharedConversationId: Type.Union([UuidSchema, Type.Null()]),
    createdAt: IsoDateSchema,
    updatedAt: IsoDateSchema
  },
  { additionalProperties: false }
)
export type Agent = Static<typeof AgentSchema>

/** What a conversation's members see of an agent shared with it: never its instructions or tools. */
export const SharedAgentSchema = Type.Object(
  { id: UuidSchema, name: Type.String(), ownerId: UuidSchema, conversationId: UuidSchema },
  { additionalProperties: false }
)
export type SharedAgent = Static<typeof SharedAgentSchema>
export const SharedAgentListSchema = Type.Object({ agents: Type.Array(SharedAgentSchema) }, { additionalProperties: false })
export type SharedAgentList = Static<typeof SharedAgentListSchema>
export const ConversationQuerySchema = Type.Object({ conversationId: UuidSchema }, { additionalProperties: false })

export const AgentListSchema = Type.Object({ agents: Type.Array(AgentSchema), nextCursor: Type.Optional(CursorSchema) }, { additionalProperties: false })
export type AgentList = Static<typeof AgentListSchema>

/** What users may learn about the configured providers: ids and models, never URLs or keys. */
export const ProviderInfoSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('local'), Type.Literal('openai-compatible')]),
    models: Type.Array(Type.String()),
    default: Type.Boolean()
  },
  { additionalProperties: false }
)
/** A tool an agent may be given, for the agent editor: name, whether it sends data off the platform. */
export const ToolInfoSchema = Type.Object(
  { name: Type.String(), egress: Type.Boolean(), source: Type.Union([Type.Literal('builtin'), Type.Literal('mcp')]) },
  { additionalProperties: false }
)
export const ToolListResponseSchema = Type.Object({ tools: Type.Array(ToolInfoSchema) }, { additionalProperties: false })
export type ToolListResponse = Static<typeof ToolListResponseSchema>

export const ProviderListSchema = Type.Object({ providers: Type.Array(ProviderInfoSchema) }, { additionalProperties: false })
export type ProviderList = Static<typeof ProviderListSchema>

export const AgentRunParamsSchema = Type.Object({ id: UuidSchema, runId: UuidSchema }, { additionalProperties: false })

export const StartRunBodySchema = Type.Object(
  { conversationId: UuidSchema, input: Type.String({ minLength: 1, maxLength: AGENT_RUN_INPUT_MAX, pattern: TEXT_PATTERN }) },
  { additionalProperties: false }
)
export type StartRunBody = Static<typeof StartRunBodySchema>

export const RUN_STATUSES = ['running', 'completed', 'failed', 'cancelled'] as const
export type RunStatus = (typeof RUN_STATUSES)[number]
export const RunStatusSchema = Type.Union([Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed'), Type.Literal('cancelled')])

/** Why a run ended other than by completing. Stable, machine readable. */
export const RUN_FAILURE_REASONS = [
  'max_steps',
  'max_tool_calls',
  'max_output_tokens',
  'call_timeout',
  'run_timeout',
  'provider_error',
  'provider_unavailable',
  'post_failed',
  'access_revoked',
  'audience_changed',
  'interrupted',
  'internal'
] as const
export type RunFailureReason = (typeof RUN_FAILURE_REASONS)[number]
export const RunFailureReasonSchema = Type.Union([
  Type.Literal('max_steps'),
  Type.Literal('max_tool_calls'),
  Type.Literal('max_output_tokens'),
  Type.Literal('call_timeout'),
  Type.Literal('run_timeout'),
  Type.Literal('provider_error'),
  Type.Literal('provider_unavailable'),
  Type.Literal('post_failed'),
  Type.Literal('access_revoked'),
  Type.Literal('audience_changed'),
  Type.Literal('interrupted'),
  Type.Literal('internal')
])

export const RunUsageSchema = Type.Object(
  {
    inputTokens: Type.Integer({ minimum: 0 }),
    outputTokens: Type.Integer({ minimum: 0 }),
    modelCalls: Type.Integer({ minimum: 0 }),
    toolCalls: Type.Integer({ minimum: 0 })
  },
  { additionalProperties: false }
)
export type RunUsage = Static<typeof RunUsageSchema>

export const RUN_STEP_KINDS = ['model_call', 'tool_call', 'tool_result'] as const
export type RunStepKind = (typeof RUN_STEP_KINDS)[number]

/** One audited step. `data` depends on `kind` (see the agents service README). */
export const RunStepSchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 0 }),
    kind: Type.Union([Type.Literal('model_call'), Type.Literal('tool_call'), Type.Literal('tool_result')]),
    at: IsoDateSchema,
    durationMs: Type.Optional(Type.Integer({ minimum: 0 })),
    data: Type.Record(Type.String(), Type.Unknown())
  },
  { additionalProperties: false }
)
export type RunStep = Static<typeof RunStepSchema>

export const RunSchema = Type.Object(
  {
    id: UuidSchema,
    agentId: UuidSchema,
    agentName: Type.String(),
    conversationId: UuidSchema,
    status: RunStatusSchema,
    input: Type.String(),
    output: Type.Optional(Type.String()),
    messageId: Type.Optional(UuidSchema),
    failure: Type.Optional(Type.Object({ reason: RunFailureReasonSchema, detail: Type.String() }, { additionalProperties: false })),
    provider: Type.String(),
    model: Type.String(),
    limits: EffectiveLimitsSchema,
    usage: RunUsageSchema,
    steps: Type.Optional(Type.Array(RunStepSchema)),
    createdAt: IsoDateSchema,
    finishedAt: Type.Optional(IsoDateSchema)
  },
  { additionalProperties: false }
)
export type Run = Static<typeof RunSchema>

export const RunListSchema = Type.Object({ runs: Type.Array(RunSchema), nextCursor: Type.Optional(CursorSchema) }, { additionalProperties: false })

/**
 * A run as every member of its conversation may see it, to label replies after a reload: which
 * agent (its name when the run started), who ran it, how it ended. `input` (the prompt) and the
 * partial `output` of a cancelled run only for the user who ran it.
 */
export const ConversationRunSchema = Type.Object(
  {
    id: UuidSchema,
    agentId: UuidSchema,
    agentName: Type.String(),
    userId: UuidSchema,
    status: RunStatusSchema,
    messageId: Type.Union([UuidSchema, Type.Null()]),
    input: Type.Optional(Type.String()),
    output: Type.Optional(Type.String()),
    createdAt: IsoDateSchema
  },
  { additionalProperties: false }
)
export type ConversationRun = Static<typeof ConversationRunSchema>
export const ConversationRunListSchema = Type.Object(
  { runs: Type.Array(ConversationRunSchema), nextCursor: Type.Optional(CursorSchema) },
  { additionalProperties: false }
)
export type ConversationRunList = Static<typeof ConversationRunListSchema>

// ---- events published to every conversation member's `events.user.<memberId>` ----
// Same shape rules as chat's user events (`type`, `at`): they belong in chat's UserEventSchema union,
// which the gateway validates before relaying a frame to a socket.

const RunRefProperties = {
  at: IsoDateSchema,
  runId: UuidSchema,
  agentId: UuidSchema,
  /** the agent's name when the run started: every member labels the reply with it */
  agentName: Type.String({ maxLength: 100 }),
  conversationId: UuidSchema
}

export const AgentRunDeltaEventSchema = Type.Object(
  { type: Type.Literal('agent.run.delta'), ...RunRefProperties, seq: Type.Integer({ minimum: 0 }), text: Type.String({ maxLength: 16_384 }) },
  { additionalProperties: false }
)
export type AgentRunDeltaEvent = Static<typeof AgentRunDeltaEventSchema>

export const AgentRunCompletedEventSchema = Type.Object(
  { type: Type.Literal('agent.run.completed'), ...RunRefProperties, messageId: UuidSchema, usage: RunUsageSchema },
  { additionalProperties: false }
)
export type AgentRunCompletedEvent = Static<typeof AgentRunCompletedEventSchema>

export const AgentRunFailedEventSchema = Type.Object(
  { type: Type.Literal('agent.run.failed'), ...RunRefProperties, reason: RunFailureReasonSchema, detail: Type.String({ maxLength: 512 }) },
  { additionalProperties: false }
)
export type AgentRunFailedEvent = Static<typeof AgentRunFailedEventSchema>

export const AgentRunCancelledEventSchema = Type.Object({ type: Type.Literal('agent.run.cancelled'), ...RunRefProperties }, { additionalProperties: false })
export type AgentRunCancelledEvent = Static<typeof AgentRunCancelledEventSchema>

export const AgentRunEventSchema = Type.Union([AgentRunDeltaEventSchema, AgentRunCompletedEventSchema, AgentRunFailedEventSchema, AgentRunCancelledEventSchema])
export type AgentRunEvent = Static<typeof AgentRunEventSchema>
export const AGENT_RUN_EVENT_TYPES = ['agent.run.delta', 'agent.run.completed', 'agent.run.failed', 'agent.run.cancelled'] as const

/** The agents service's share of `events.user.<userId>` (see chat's UserEvents). */
export const AgentRunEvents: NatsEvent<typeof AgentRunEventSchema> = {
  subject: 'events.user.*',
  payload: AgentRunEventSchema,
  publishers: ['agents'],
  subscribers: ['gateway']
}

// ---- internal subjects (agents ↔ agents) ----

/** Asks whichever agents instance runs `runId` to stop it (cancel may land on another instance). */
export const AgentRunCancelRequestSchema = Type.Object({ runId: UuidSchema, userId: UuidSchema }, { additionalProperties: false })
export const AgentsRunCancel: NatsEvent<typeof AgentRunCancelRequestSchema> = {
  subject: 'agents.run.cancel',
  payload: AgentRunCancelRequestSchema,
  publishers: ['agents'],
  subscribers: ['agents']
}
