import { and, asc, eq, sql } from 'drizzle-orm'
import type { Database } from '@palisade/platform'
import type { Agent, EffectiveLimits, Run, RunFailureReason, RunStatus, RunStep, RunUsage } from '@palisade/contracts'
import { type agents, runs, runSteps } from './schema.js'

export type AgentRow = typeof agents.$inferSelect
export type RunRow = typeof runs.$inferSelect
export type StepRow = typeof runSteps.$inferSelect

export const EMPTY_USAGE: RunUsage = { inputTokens: 0, outputTokens: 0, modelCalls: 0, toolCalls: 0 }

export function agentView(row: AgentRow): Agent {
  return {
    id: row.id,
    name: row.name,
    instructions: row.instructions,
    provider: row.provider,
    model: row.model,
    tools: row.tools,
    dataEgress: row.dataEgress,
    temperature: row.temperature,
    limits: row.limits,
    sharedConversationId: row.sharedConversationId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString()
  }
}

export function runView(row: RunRow, steps?: StepRow[]): Run {
  return {
    id: row.id,
    agentId: row.agentId,
    agentName: row.agentName,
    conversationId: row.conversationId,
    status: row.status,
    input: row.input,
    ...(row.output !== null ? { output: row.output } : {}),
    ...(row.messageId ? { messageId: row.messageId } : {}),
    ...(row.failureReason ? { failure: { reason: row.failureReason as RunFailureReason, detail: row.failureDetail ?? '' } } : {}),
    provider: row.provider,
    model: row.model,
    limits: row.limits,
    usage: row.usage,
    ...(steps ? { steps: steps.map(stepView) } : {}),
    createdAt: row.createdAt.toISOString(),
    ...(row.finishedAt ? { finishedAt: row.finishedAt.toISOString() } : {})
  }
}

function stepView(s: StepRow): RunStep {
  return { seq: s.seq, kind: s.kind, at: s.at.toISOString(), ...(s.durationMs !== null ? { durationMs: s.durationMs } : {}), data: s.data }
}

export async function getRunSteps(db: Database, runId: string): Promise<StepRow[]> {
  return db.select().from(runSteps).where(eq(runSteps.runId, runId)).orderBy(asc(runSteps.seq))
}

/** PostgreSQL text and jsonb cannot hold NUL; model-made strings (tool arguments) may contain it. */
export function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return value.replace(/\u0000/g, '') as T
  if (Array.isArray(value)) return value.map(withoutNul) as T
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [withoutNul(k), withoutNul(v)])) as T
  }
  return value
}

export async function insertStep(
  db: Database,
  step: { runId: string; seq: number; kind: StepRow['kind']; data: Record<string, unknown>; durationMs?: number }
): Promise<void> {
  await db.insert(runSteps).values({ ...step, data: withoutNul(step.data), durationMs: step.durationMs ?? null })
}

export interface RunEnd {
  status: Exclude<RunStatus, 'running'>
  usage: RunUsage
  output?: string | undefined
  messageId?: string | undefined
  failureReason?: RunFailureReason | undefined
  failureDetail?: string | undefined
}

/** Records the end of a run unless something else (the stale-run sweeper) already ended it. */
export async function finishRun(db: Database, runId: string, end: RunEnd): Promise<boolean> {
  const done = await db
    .update(runs)
    .set({
      status: end.status,
      usage: end.usage,
      output: end.output ?? null,
      messageId: end.messageId ?? null,
      failureReason: end.failureReason ?? null,
      failureDetail: end.failureDetail ?? null,
      finishedAt: sql`now()`
    })
    .where(and(eq(runs.id, runId), eq(runs.status, 'running')))
    .returning({ id: runs.id })
  return done.length === 1
}

export type NewRun = {
  agentId: string
  agentName: string
  userId: string
  sessionId: string
  conversationId: string
  input: string
  provider: string
  model: string
  limits: EffectiveLimits
}

export type RunAdmission = { ok: true; run: RunRow } | { ok: false; why: 'concurrency' | 'rate'; retryAfterSeconds: number }

/**
 * Admits a run against the per-user limits and records it, atomically: a per-user advisory lock
 * serialises admissions of one user across every agents instance, so two simultaneous requests can
 * never both take the last slot.
 */
export async function admitRun(db: Database, run: NewRun, maxConcurrent: number, perMinute: number): Promise<RunAdmission> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`agents.runs:${run.userId}`}, 0))`)
    // One round trip: running runs and runs started in the last minute (two partial/composite indexes).
    const counts = await tx.execute<{ active: number; recent: number; wait: number | null }>(
      sql`SELECT count(*) FILTER (WHERE ${runs.status} = 'running')::int AS active,
                 count(*) FILTER (WHERE ${runs.createdAt} > now() - interval '60 seconds')::int AS recent,
                 ceil(extract(epoch FROM (min(${runs.createdAt}) FILTER (WHERE ${runs.createdAt} > now() - interval '60 seconds')
                                          + interval '60 seconds' - now())))::int AS wait
          FROM ${runs}
          WHERE ${runs.userId} = ${run.userId} AND (${runs.status} = 'running' OR ${runs.createdAt} > now() - interval '60 seconds')`
    )
    const c = counts.rows[0]
    if ((c?.active ?? 0) >= maxConcurrent) return { ok: false, why: 'concurrency', retryAfterSeconds: 5 }
    if ((c?.recent ?? 0) >= perMinute) return { ok: false, why: 'rate', retryAfterSeconds: Math.max(1, c?.wait ?? 60) }
    const [row] = await tx
      .insert(runs)
      .values({ ...run, status: 'running', usage: EMPTY_USAGE })
      .returning()
    return { ok: true, run: row! }
  })
}
