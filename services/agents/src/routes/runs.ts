import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { and, eq } from 'drizzle-orm'
import {
  AgentRunParamsSchema,
  AgentsRunCancel,
  ConversationParamsSchema,
  ConversationRunListSchema,
  ErrorCode,
  IdParamsSchema,
  PageQuerySchema,
  RunListSchema,
  RunSchema,
  StartRunBodySchema
} from '@palisade/contracts'
import { callContextOf, cursorCodec, identityOf, natsPublish, ProblemError, problems, timeIdPosition } from '@palisade/platform'
import { afterCursor, newestFirst } from '../db/keyset.js'
import { runs } from '../db/schema.js'
import { admitRun, getRunSteps, runView, type RunRow } from '../db/store.js'
import { effectiveLimits } from '../limits.js'
import { RunStop } from '../runs/stop.js'
import { membersAsCaller, runnableAgent } from '../db/sharing.js'

const runCursor = cursorCodec('r', timeIdPosition)

const RunWithoutStepsSchema = RunSchema
const CANCEL_WAIT_MS = 5000

export const runRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, runner } = app.agents

  async function ownRun(agentId: string, runId: string, userId: string): Promise<RunRow> {
    const [row] = await app.db
      .select()
      .from(runs)
      .where(and(eq(runs.id, runId), eq(runs.agentId, agentId), eq(runs.userId, userId)))
    if (!row) throw problems.notFound('Run not found')
    return row
  }

  app.post('/:id/runs', { schema: { params: IdParamsSchema, body: StartRunBodySchema, response: { 202: RunWithoutStepsSchema } } }, async (request, reply) => {
    const identity = identityOf(request)
    const { conversationId, input } = request.body
    // Only members may run an agent in a conversation; anything else is "not found". chat answers
    // `chat.members.get` only to members (acting user from the header, revoked sessions refused),
    // so one call both checks membership and gives the audience of the run's events.
    const memberIds = await membersAsCaller(app.nats, conversationId, callContextOf(request))
    const agent = await runnableAgent(app.db, request.params.id, identity.userId, conversationId, memberIds)
    const admission = await admitRun(
      app.db,
      {
        agentId: agent.id,
        agentName: agent.name,
        userId: identity.userId,
        sessionId: identity.sessionId,
        conversationId,
        input,
        provider: agent.provider,
        model: agent.model,
        limits: effectiveLimits(agent.limits, config)
      },
      config.AGENTS_MAX_CONCURRENT_RUNS,
      config.AGENTS_RUNS_PER_MINUTE
    )
    if (!admission.ok) {
      throw problems.tooMany(
        admission.retryAfterSeconds,
        admission.why === 'concurrency'
          ? `At most ${config.AGENTS_MAX_CONCURRENT_RUNS} agent runs may be in progress at once`
          : `At most ${config.AGENTS_RUNS_PER_MINUTE} agent runs may be started per minute`
      )
    }
    runner.start({
      run: admission.run,
      instructions: agent.instructions,
      tools: agent.tools,
      dataEgress: agent.dataEgress,
      temperature: agent.temperature,
      memberIds
    })
    return reply.code(202).header('location', `/api/agents/${agent.id}/runs/${admission.run.id}`).send(runView(admission.run))
  })

  // Every member labels agent replies from this after a reload: which agent, its name then, how the
  // run ended. The prompt and a cancelled run's partial text only for the user who ran it.
  app.get(
    '/conversations/:id/runs',
    { schema: { params: ConversationParamsSchema, querystring: PageQuerySchema, response: { 200: ConversationRunListSchema } } },
    async (request) => {
      const { userId } = identityOf(request)
      const conversationId = request.params.id
      await membersAsCaller(app.nats, conversationId, callContextOf(request))
      const limit = request.query.limit ?? 50
      const cursor = runCursor.decodeOptional(request.query.cursor)
      const rows = await app.db
        .select()
        .from(runs)
        .where(and(eq(runs.conversationId, conversationId), afterCursor(runs, cursor)))
        .orderBy(...newestFirst(runs))
        .limit(limit + 1)
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      return {
        runs: page.map((r) => ({
          id: r.id,
          agentId: r.agentId,
          agentName: r.agentName,
          userId: r.userId,
          status: r.status,
          messageId: r.messageId,
          ...(r.userId === userId ? { input: r.input, ...(r.status === 'cancelled' && r.output ? { output: r.output } : {}) } : {}),
          createdAt: r.createdAt.toISOString()
        })),
        ...(rows.length > limit && last ? { nextCursor: runCursor.encode({ at: last.createdAt, id: last.id }) } : {})
      }
    }
  )

  app.get('/:id/runs', { schema: { params: IdParamsSchema, querystring: PageQuerySchema, response: { 200: RunListSchema } } }, async (request) => {
    const { userId } = identityOf(request)
    const limit = request.query.limit ?? 50
    const cursor = runCursor.decodeOptional(request.query.cursor)
    const rows = await app.db
      .select()
      .from(runs)
      .where(and(eq(runs.agentId, request.params.id), eq(runs.userId, userId), afterCursor(runs, cursor)))
      .orderBy(...newestFirst(runs))
      .limit(limit + 1)
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return { runs: page.map((r) => runView(r)), ...(rows.length > limit && last ? { nextCursor: runCursor.encode({ at: last.createdAt, id: last.id }) } : {}) }
  })

  app.get('/:id/runs/:runId', { schema: { params: AgentRunParamsSchema, response: { 200: RunSchema } } }, async (request) => {
    const { userId } = identityOf(request)
    const row = await ownRun(request.params.id, request.params.runId, userId)
    return runView(row, await getRunSteps(app.db, row.id))
  })

  app.post('/:id/runs/:runId/cancel', { schema: { params: AgentRunParamsSchema, response: { 200: RunSchema, 202: RunSchema } } }, async (request, reply) => {
    const { userId } = identityOf(request)
    // No body, or an empty JSON object; nothing else.
    const body = request.body as unknown
    if (body !== undefined && body !== null && (typeof body !== 'object' || Object.keys(body).length > 0)) {
      throw problems.badRequest('cancel takes no body')
    }
    const row = await ownRun(request.params.id, request.params.runId, userId)
    if (row.status === 'cancelled') return runView(row)
    if (row.status !== 'running') throw new ProblemError(409, ErrorCode.conflict, `The run has already ${row.status === 'completed' ? 'completed' : 'failed'}`)
    const local = runner.get(row.id)
    if (local) {
      if (!runner.stopLocal(row.id, userId, RunStop.cancelled())) {
        // Too late: the output is already being posted.
      }
      await Promise.race([local.done, new Promise((r) => setTimeout(r, CANCEL_WAIT_MS).unref())])
      const [after] = await app.db.select().from(runs).where(eq(runs.id, row.id))
      if (after!.status === 'completed') throw new ProblemError(409, ErrorCode.conflict, 'The run has already completed')
      return runView(after!)
    }
    // Executing on another instance: ask it over NATS.
    natsPublish(app.nats, AgentsRunCancel, { runId: row.id, userId })
    return reply.code(202).send(runView(row))
  })
}
