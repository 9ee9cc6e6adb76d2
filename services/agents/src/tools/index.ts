import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import {
  CHAT_LIMITS,
  ChatHistoryGet,
  ChatSearch,
  CursorSchema,
  FILE_TEXT_MAX_BYTES,
  FilesMetaGet,
  FilesTextGet,
  UuidSchema,
  type AgentToolName,
  type Message
} from '@palisade/contracts'
import { natsRequest, ProblemError } from '@palisade/platform'
import { FLOW_REFUSAL } from '../runs/flow.js'
import { ToolRefusal, type ToolContext, type ToolDefinition } from './types.js'
import { webFetch } from './web-fetch.js'

export { ToolRefusal, type ToolContext, type ToolDefinition } from './types.js'

const flowRefusal = () => new ToolRefusal(FLOW_REFUSAL, 'information_flow')

const LINE = '^[^\\u0000-\\u001f\\u007f]+$'

function messageView(m: Message): Record<string, unknown> {
  return {
    id: m.id,
    conversationId: m.conversationId,
    senderId: m.senderId,
    author: m.author.kind === 'agent' ? 'agent' : 'user',
    createdAt: m.createdAt,
    text: m.text,
    ...(m.attachments.length > 0 ? { attachments: m.attachments } : {})
  }
}

const ChatSearchArgs = Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: CHAT_LIMITS.searchQueryMaxLength, pattern: LINE, description: 'words to look for' }),
    conversationId: Type.Optional({ ...UuidSchema, description: 'limit the search to one conversation' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.natsPageMax }))
  },
  { additionalProperties: false }
)

const ChatHistoryArgs = Type.Object(
  {
    conversationId: Type.Optional({ ...UuidSchema, description: 'only the current conversation is allowed' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.natsPageMax })),
    before: Type.Optional({ ...CursorSchema, description: 'nextCursor of a previous call, for older messages' })
  },
  { additionalProperties: false }
)

const FilesReadArgs = Type.Object({ fileId: { ...UuidSchema, description: 'id of the file' } }, { additionalProperties: false })

const chatSearch: ToolDefinition<typeof ChatSearchArgs> = {
  name: 'chat.search',
  fn: 'chat_search',
  description: "Full-text search in the messages of the user's conversations. Newest match first.",
  args: ChatSearchArgs,
  async run(args, ctx) {
    let conversationId = args.conversationId
    if (ctx.confined) {
      if (conversationId && conversationId !== ctx.conversationId) {
        throw new ToolRefusal('after reading tool output, chat.search may only search the current conversation', 'confinement')
      }
      conversationId = ctx.conversationId
    }
    // A named conversation is checked before chat is asked (and refused like one that does not exist).
    if (conversationId && !(await ctx.flow.admit({ kind: 'conversation', id: conversationId }))) throw flowRefusal()
    const page = await natsRequest(
      ctx.nats,
      ChatSearch,
      { q: args.query, ...(conversationId ? { conversationId } : {}), limit: args.limit ?? 10 },
      ctx.call,
      ctx.timeoutMs
    )
    // Across the user's conversations: only matches from those every member can read reach the
    // model. Said in every shared search, whether or not anything was dropped (no count: a count
    // would tell the other members that the user's private conversations match).
    const readable = new Map<string, boolean>()
    for (const id of new Set(page.items.map((m) => m.conversationId))) {
      readable.set(id, await ctx.flow.admit({ kind: 'conversation', id }))
    }
    const messages = page.items.filter((m) => readable.get(m.conversationId)).map(messageView)
    const shared = ctx.flow.memberIds.length > 1
    return { messages, ...(shared && !conversationId ? { scope: 'only conversations that every member of this conversation can read' } : {}) }
  }
}

const chatHistory: ToolDefinition<typeof ChatHistoryArgs> = {
  name: 'chat.history',
  fn: 'chat_history',
  description: 'Recent messages of the current conversation, newest first.',
  args: ChatHistoryArgs,
  async run(args, ctx) {
    if (args.conversationId && args.conversationId !== ctx.conversationId) {
      throw new ToolRefusal('chat.history only reads the current conversation')
    }
    await ctx.flow.admit({ kind: 'conversation', id: ctx.conversationId })
    const page = await natsRequest(
      ctx.nats,
      ChatHistoryGet,
      { conversationId: ctx.conversationId, limit: args.limit ?? 20, ...(args.before ? { before: args.before } : {}) },
      ctx.call,
      ctx.timeoutMs
    )
    return { messages: page.items.map(messageView), nextCursor: page.nextCursor }
  }
}

const filesRead: ToolDefinition<typeof FilesReadArgs> = {
  name: 'files.read',
  fn: 'files_read',
  description: 'The text of a plain-text file the user can access (the beginning of it when long).',
  args: FilesReadArgs,
  async run(args, ctx) {
    const meta = await natsRequest(ctx.nats, FilesMetaGet, { fileId: args.fileId }, ctx.call, ctx.timeoutMs)
    if (ctx.confined && meta.conversationId !== ctx.conversationId) {
      throw new ToolRefusal('after reading tool output, files.read may only read files shared in the current conversation', 'confinement')
    }
    if (!(await ctx.flow.admit({ kind: 'file', id: meta.id, ownerId: meta.ownerId, conversationId: meta.conversationId }))) throw flowRefusal()
    const file = await natsRequest(ctx.nats, FilesTextGet, { fileId: args.fileId, maxBytes: FILE_TEXT_MAX_BYTES }, ctx.call, ctx.timeoutMs)
    return { fileId: file.fileId, name: file.name, size: file.size, truncated: file.truncated, text: file.text }
  }
}

export const TOOLS: readonly ToolDefinition[] = [chatSearch, chatHistory, filesRead, webFetch] as unknown as ToolDefinition[]
const byFn = new Map(TOOLS.map((t) => [t.fn, t]))
const validators = new Map(TOOLS.map((t) => [t.fn, Compile(t.args)]))

export function toolByName(name: AgentToolName): ToolDefinition {
  return TOOLS.find((t) => t.name === name)!
}

/** The tool behind a function name the model used, if any. */
export function toolByFn(fn: string): ToolDefinition | undefined {
  return byFn.get(fn)
}

/** The JSON schema the model is given for a tool (plain JSON, no TypeBox internals). */
export function toolSpec(t: ToolDefinition): { name: string; description: string; parameters: Record<string, unknown> } {
  return { name: t.fn, description: t.description, parameters: JSON.parse(JSON.stringify(t.args)) as Record<string, unknown> }
}

export type ToolOutcome =
  | { ok: true; tool: string; output: unknown }
  | { ok: false; tool: string | null; refused: boolean; error: string; rule?: ToolRefusal['rule'] }

const MAX_ARGUMENT_CHARS = 16_384

/**
 * Runs one tool call the model asked for, if and only if: the tool exists, it is on this agent's
 * list, its arguments parse and match the schema. The call goes over NATS as the run's user; the
 * owning service applies that user's rights (a conversation or file the user cannot access is
 * "not found", whatever the model says).
 */
export async function runToolCall(fn: string, rawArgs: string, allowed: readonly AgentToolName[], ctx: ToolContext, signal: AbortSignal): Promise<ToolOutcome> {
  const tool = byFn.get(fn)
  if (!tool) return { ok: false, tool: null, refused: true, error: `unknown tool ${JSON.stringify(fn.slice(0, 64))}` }
  if (!allowed.includes(tool.name)) return { ok: false, tool: tool.name, refused: true, error: `tool ${tool.name} is not enabled for this agent` }
  if (rawArgs.length > MAX_ARGUMENT_CHARS) return { ok: false, tool: tool.name, refused: true, error: 'arguments are too long' }
  let args: unknown
  try {
    args = rawArgs.trim() === '' ? {} : JSON.parse(rawArgs)
  } catch {
    return { ok: false, tool: tool.name, refused: true, error: 'arguments are not valid JSON' }
  }
  const v = validators.get(fn)!
  if (!v.Check(args)) {
    const first = [...v.Errors(args)][0]
    return { ok: false, tool: tool.name, refused: true, error: `invalid arguments at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}` }
  }
  // Egress after reading: whatever the run read could be in these arguments (a URL's query string).
  if (tool.egress && ctx.flow.tainted && !ctx.dataEgress.includes(tool.name)) {
    return {
      ok: false,
      tool: tool.name,
      refused: true,
      rule: 'egress',
      error: `${tool.name} sends data off the platform, and this run has read conversation or file data; the agent's owner has not allowed ${tool.name} to receive such data`
    }
  }
  try {
    signal.throwIfAborted()
    const output = await abortable(tool.run(args, ctx), signal)
    return { ok: true, tool: tool.name, output }
  } catch (err) {
    if (signal.aborted) throw signal.reason
    if (err instanceof ToolRefusal) return { ok: false, tool: tool.name, refused: true, error: err.message, ...(err.rule ? { rule: err.rule } : {}) }
    if (err instanceof ProblemError) {
      if (err.statusCode === 404 || err.statusCode === 403)
        return { ok: false, tool: tool.name, refused: true, error: 'not found or not accessible to this user' }
      if (err.statusCode === 504) return { ok: false, tool: tool.name, refused: false, error: 'the tool did not answer in time' }
      if (err.statusCode === 503) return { ok: false, tool: tool.name, refused: false, error: 'the tool is unavailable' }
      if (err.statusCode < 500) return { ok: false, tool: tool.name, refused: true, error: err.message.slice(0, 200) }
    }
    return { ok: false, tool: tool.name, refused: false, error: 'the tool failed' }
  }
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      }
    )
  })
}
