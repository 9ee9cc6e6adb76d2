import type { NatsConnection } from '@nats-io/transport-node'
import { AuthUserLookup, CHAT_LIMITS, ChatHistoryGet, type Message } from '@palisade/contracts'
import { natsRequest, type CallContext } from '@palisade/platform'

/** Rough token count of a text (≈ 4 characters a token for English prose); good enough for a budget. */
export const estimateTokens = (text: string) => Math.ceil(text.length / 4)

const MAX_PAGES = 8
const LINE_MAX_CHARS = 2000

export interface RecentConversation {
  /** the lines shown to the model, oldest first */
  lines: string[]
  /** whether older messages were left out for the budget */
  omitted: boolean
}

/**
 * The newest messages of the run's conversation that fit in `budgetTokens`, each line naming its
 * speaker (display name from auth; an agent's message as "agent (run by …)"). Read as the run's
 * user through chat, like the `chat.history` tool. The caller hands it to the model as untrusted data.
 */
export async function recentConversation(
  nats: NatsConnection,
  call: CallContext,
  conversationId: string,
  budgetTokens: number,
  timeoutMs: number
): Promise<RecentConversation> {
  const picked: Message[] = []
  let used = 0
  let before: string | undefined
  let omitted = false
  for (let page = 0; page < MAX_PAGES && !omitted; page++) {
    const res = await natsRequest(nats, ChatHistoryGet, { conversationId, limit: CHAT_LIMITS.natsPageMax, ...(before ? { before } : {}) }, call, timeoutMs)
    for (const m of res.items) {
      const cost = estimateTokens(m.text.slice(0, LINE_MAX_CHARS)) + 8
      if (used + cost > budgetTokens) {
        omitted = true
        break
      }
      used += cost
      picked.push(m)
    }
    if (!res.nextCursor) break
    before = res.nextCursor
  }
  if (picked.length === 0) return { lines: [], omitted }
  const names = await displayNames(nats, call, [...new Set(picked.map((m) => m.senderId))], timeoutMs)
  const lines = picked.reverse().map((m) => {
    const who = names.get(m.senderId) ?? 'unknown user'
    const speaker = m.author.kind === 'agent' ? `agent (run by ${who})` : who
    const text = m.text.length > LINE_MAX_CHARS ? `${m.text.slice(0, LINE_MAX_CHARS)}…` : m.text
    const files = m.attachments.length > 0 ? ` (attached files: ${m.attachments.join(', ')})` : ''
    // The text as a JSON string: a newline in a message cannot start a line that fakes a speaker.
    return `[${m.createdAt}] ${speaker}: ${JSON.stringify(text)}${files}`
  })
  return { lines, omitted }
}

async function displayNames(nats: NatsConnection, call: CallContext, ids: string[], timeoutMs: number): Promise<Map<string, string>> {
  const names = new Map<string, string>()
  for (let i = 0; i < ids.length; i += 100) {
    try {
      const res = await natsRequest(nats, AuthUserLookup, { userIds: ids.slice(i, i + 100) }, call, timeoutMs)
      // Names are user-chosen: one line, no brackets that could fake another speaker's line.
      for (const u of res.users) names.set(u.id, u.displayName.replace(/[\r\n[\]:]/g, ' ').trim() || 'unnamed user')
    } catch {
      // Without names the lines say "unknown user"; not worth failing the run.
    }
  }
  return names
}
