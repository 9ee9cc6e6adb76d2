import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { and, eq } from 'drizzle-orm'
import {
  AgentListSchema,
  AgentSchema,
  CreateAgentBodySchema,
  IdParamsSchema,
  PageQuerySchema,
  ProviderListSchema,
  ConversationQuerySchema,
  SharedAgentListSchema,
  UpdateAgentBodySchema,
  AGENT_TOOL_NAMES,
  EGRESS_TOOL_NAMES,
  ToolListResponseSchema
} from '@palisade/contracts'
import { callContextOf, cursorCodec, identityOf, problems, timeIdPosition, type Database } from '@palisade/platform'
import type { FastifyRequest } from 'fastify'
import { afterCursor, newestFirst } from '../db/keyset.js'
import { agents } from '../db/schema.js'
import { membersAsCaller } from '../db/sharing.js'
import { agentView, type AgentRow } from '../db/store.js'
import type { McpRegistry } from '../mcp/registry.js'
import type { ProviderRegistry } from '../providers/registry.js'

const agentCursor = cursorCodec('a', timeIdPosition)

/** The caller's agent, or 404 (someone else's agent is indistinguishable from none). */
export async function ownAgent(db: Database, id: string, userId: string): Promise<AgentRow> {
  const [row] = await db
    .select()
    .from(agents)
    .where(and(eq(agents.id, id), eq(agents.ownerId, userId)))
  if (!row) throw problems.notFound('Agent not found')
  return row
}

function resolveModel(providers: ProviderRegistry, providerId: string, model: string | undefined): string {
  const provider = providers.get(providerId)
  if (!provider) throw problems.badRequest(`Unknown provider ${providerId}`)
  if (model === undefined) return provider.models[0]!
  if (!provider.models.includes(model)) throw problems.badRequest(`Provider ${providerId} does not offer model ${model}`)
  return model
}

/**
 * MCP tools must be ones operations allow now; `dataEgress` may name only egress tools that are on
 * the agent's own list.
 */
function checkTools(mcp: McpRegistry, tools: readonly string[], dataEgress: readonly string[]): void {
  for (const name of tools) if (name.startsWith('mcp:') && !mcp.has(name)) throw problems.badRequest(`tools: ${name} is not a tool operations configured`)
  for (const name of dataEgress) {
    const egress = (EGRESS_TOOL_NAMES as readonly string[]).includes(name) || mcp.isEgress(name)
    if (!egress) throw problems.badRequest(`dataEgress: ${name} is not a tool that sends data off the platform`)
    if (!tools.includes(name)) throw problems.badRequest(`dataEgress: ${name} is not one of the agent's tools`)
  }
}

export const agentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { providers, mcp } = app.agents

  /** An agent may be shared only with a conversation its owner belongs to. */
  async function checkShare(request: FastifyRequest, conversationId: string | null | undefined): Promise<void> {
    if (conversationId) await membersAsCaller(app.nats, conversationId, callContextOf(request))
  }

  app.get('/shared', { schema: { querystring: ConversationQuerySchema, response: { 200: SharedAgentListSchema } } }, async (request) => {
    const { conversationId } = request.query
    const memberIds = await membersAsCaller(app.nats, conversationId, callContextOf(request))
    const rows = await app.db
      .select({ id: agents.id, name: agents.name, ownerId: agents.ownerId })
      .from(agents)
      .where(eq(agents.sharedConversationId, conversationId))
      .orderBy(agents.name, agents.id)
      .limit(200)
    // An owner who left without the event reaching us: their sharing is over all the same.
    return { agents: rows.filter((r) => memberIds.includes(r.ownerId)).map((r) => ({ ...r, conversationId })) }
  })

  app.get('/tools', { schema: { response: { 200: ToolListResponseSchema } } }, async () => ({
    tools: [
      ...AGENT_TOOL_NAMES.map((name) => ({ name, egress: (EGRESS_TOOL_NAMES as readonly string[]).includes(name), source: 'builtin' as const })),
      ...mcp.list().map((t) => ({ name: t.ref, egress: t.egress, source: 'mcp' as const }))
    ]
  }))

  app.get('/providers', { schema: { response: { 200: ProviderListSchema } } }, async () => ({
    providers: providers.list().map((p) => ({ id: p.id, kind: p.kind, models: [...p.models], default: p.id === providers.defaultId }))
  }))

  app.post('/', { schema: { body: CreateAgentBodySchema, response: { 201: AgentSchema } } }, async (request, reply) => {
    const { userId } = identityOf(request)
    const body = request.body
    const provider = body.provider ?? providers.defaultId
    const model = resolveModel(providers, provider, body.model)
    checkTools(mcp, body.tools ?? [], body.dataEgress ?? [])
    await checkShare(request, body.sharedConversationId)
    const [row] = await app.db
      .insert(agents)
      .values({
        ownerId: userId,
        name: body.name,
        instructions: body.instructions ?? '',
        provider,
        model,
        tools: body.tools ?? [],
        dataEgress: body.dataEgress ?? [],
        temperature: body.temperature ?? null,
        limits: body.limits ?? {},
        sharedConversationId: body.sharedConversationId ?? null
      })
      .returning()
    return reply.code(201).header('location', `/api/agents/${row!.id}`).send(agentView(row!))
  })

  app.get('/', { schema: { querystring: PageQuerySchema, response: { 200: AgentListSchema } } }, async (request) => {
    const { userId } = identityOf(request)
    const limit = request.query.limit ?? 50
    const cursor = agentCursor.decodeOptional(request.query.cursor)
    const rows = await app.db
      .select()
      .from(agents)
      .where(and(eq(agents.ownerId, userId), afterCursor(agents, cursor)))
      .orderBy(...newestFirst(agents))
      .limit(limit + 1)
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return { agents: page.map(agentView), ...(rows.length > limit && last ? { nextCursor: agentCursor.encode({ at: last.createdAt, id: last.id }) } : {}) }
  })

  app.get('/:id', { schema: { params: IdParamsSchema, response: { 200: AgentSchema } } }, async (request) => {
    const { userId } = identityOf(request)
    return agentView(await ownAgent(app.db, request.params.id, userId))
  })

  app.patch('/:id', { schema: { params: IdParamsSchema, body: UpdateAgentBodySchema, response: { 200: AgentSchema } } }, async (request) => {
    const { userId } = identityOf(request)
    const current = await ownAgent(app.db, request.params.id, userId)
    const body = request.body
    const provider = body.provider ?? current.provider
    // Only a change of provider or model is checked against what operations offer now; a provider
    // change without a model picks that provider's first model.
    const model =
      body.provider === undefined && body.model === undefined
        ? current.model
        : resolveModel(providers, provider, body.model ?? (provider !== current.provider ? undefined : current.model))
    // Removing a tool also withdraws its data permission; naming one it does not have is refused.
    const tools = body.tools ?? current.tools
    const dataEgress = body.dataEgress ?? current.dataEgress.filter((n) => tools.includes(n))
    if (body.tools !== undefined || body.dataEgress !== undefined) checkTools(mcp, tools, dataEgress)
    if (body.sharedConversationId !== current.sharedConversationId) await checkShare(request, body.sharedConversationId)
    const [row] = await app.db
      .update(agents)
      .set({
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.instructions !== undefined ? { instructions: body.instructions } : {}),
        ...(body.tools !== undefined ? { tools: body.tools } : {}),
        ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
        dataEgress,
        ...(body.limits !== undefined ? { limits: body.limits } : {}),
        ...(body.sharedConversationId !== undefined ? { sharedConversationId: body.sharedConversationId } : {}),
        provider,
        model,
        updatedAt: new Date()
      })
      .where(and(eq(agents.id, current.id), eq(agents.ownerId, userId)))
      .returning()
    if (!row) throw problems.notFound('Agent not found')
    // No longer shared there: the other members' runs of it stop (on this instance; see the notes).
    if (current.sharedConversationId && row.sharedConversationId !== current.sharedConversationId) app.agents.runner.stopSharedRuns(row.id, userId)
    return agentView(row)
  })

  app.delete('/:id', { schema: { params: IdParamsSchema } }, async (request, reply) => {
    const { userId } = identityOf(request)
    const deleted = await app.db
      .delete(agents)
      .where(and(eq(agents.id, request.params.id), eq(agents.ownerId, userId)))
      .returning({ id: agents.id })
    if (deleted.length === 0) throw problems.notFound('Agent not found')
    app.agents.runner.stopAgentRuns(request.params.id)
    return reply.code(204).send()
  })
}
