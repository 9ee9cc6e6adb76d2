import { sql } from 'drizzle-orm'
import { doublePrecision, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import type { AgentLimits, EffectiveLimits, RunUsage } from '@palisade/contracts'
import { outboxTable } from '@palisade/platform'

export const agentsSchema = pgSchema('agents')

export const agents = agentsSchema.table(
  'agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id').notNull(),
    name: text('name').notNull(),
    instructions: text('instructions').notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    tools: jsonb('tools').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    /** egress tools the owner allows to receive conversation or file data */
    dataEgress: jsonb('data_egress').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    limits: jsonb('limits').$type<AgentLimits>().notNull().default(sql`'{}'::jsonb`),
    /** sampling temperature (null: the provider's default) */
    temperature: doublePrecision('temperature'),
    /** shared with this conversation (its members may run it), or null: private */
    sharedConversationId: uuid('shared_conversation_id'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow()
  },
  (t) => [
    index('agents_owner_created_idx').on(t.ownerId, t.createdAt, t.id),
    index('agents_shared_idx').on(t.sharedConversationId).where(sql`shared_conversation_id IS NOT NULL`)
  ]
)

/**
 * One run of an agent. No foreign key to `agents`: the audit record outlives the agent.
 * `heartbeat_at` is refreshed by the instance executing the run; a run whose heartbeat is stale was
 * left behind by a crash and is marked failed ("interrupted").
 */
export const runs = agentsSchema.table(
  'runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    agentId: uuid('agent_id').notNull(),
    /** the agent's name when the run started (labels the reply for every member) */
    agentName: text('agent_name').notNull().default(''),
    userId: uuid('user_id').notNull(),
    sessionId: uuid('session_id').notNull(),
    conversationId: uuid('conversation_id').notNull(),
    status: text('status').$type<'running' | 'completed' | 'failed' | 'cancelled'>().notNull(),
    input: text('input').notNull(),
    output: text('output'),
    messageId: uuid('message_id'),
    failureReason: text('failure_reason'),
    failureDetail: text('failure_detail'),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    limits: jsonb('limits').$type<EffectiveLimits>().notNull(),
    usage: jsonb('usage').$type<RunUsage>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true, precision: 3 })
  },
  (t) => [
    index('runs_user_created_idx').on(t.userId, t.createdAt),
    index('runs_agent_created_idx').on(t.agentId, t.createdAt, t.id),
    index('runs_conversation_created_idx').on(t.conversationId, t.createdAt, t.id),
    index('runs_active_user_idx').on(t.userId).where(sql`status = 'running'`),
    index('runs_active_heartbeat_idx').on(t.heartbeatAt).where(sql`status = 'running'`)
  ]
)

/** Audit trail of a run: every model call, tool call and tool result, in order. */
export const runSteps = agentsSchema.table(
  'run_steps',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    kind: text('kind').$type<'model_call' | 'tool_call' | 'tool_result'>().notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    durationMs: integer('duration_ms'),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull().defaultNow()
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })]
)

/** Events written with the changes they announce (a run's end); the platform's relay publishes them (OutboxRelay). */
export const outbox = outboxTable(agentsSchema)
