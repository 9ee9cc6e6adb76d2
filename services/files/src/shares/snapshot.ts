import type { FastifyInstance } from 'fastify'
import { AuthUserLookup, ChatHistoryGet, CHAT_LIMITS, SNAPSHOT_MAX_MESSAGES, type ConversationSnapshot, type Message } from '@palisade/contracts'
import { natsRequest, problems, type CallContext } from '@palisade/platform'

type Nats = FastifyInstance['nats']

/**
 * A conversation's messages as the creator sees them now, from chat (`chat.history.get`, acting as
 * the creator: not a member → 404), with their authors' display names from auth. Only what a reader
 * of the page needs: no member list, no email address, no ids. `messageIds`: just those (they must
 * be among the newest SNAPSHOT_MAX_MESSAGES); otherwise all up to now, the newest
 * SNAPSHOT_MAX_MESSAGES when there are more.
 */
export async function takeSnapshot(nc: Nats, ctx: CallContext, conversationId: string, messageIds?: string[]): Promise<ConversationSnapshot> {
  const wanted = messageIds ? new Set(messageIds.map((id) => id.toLowerCase())) : undefined
  const picked: Message[] = []
  let before: string | undefined
  let seen = 0
  while (seen < SNAPSHOT_MAX_MESSAGES) {
    const page = await natsRequest(nc, ChatHistoryGet, { conversationId, limit: CHAT_LIMITS.natsPageMax, ...(before ? { before } : {}) }, ctx)
    for (const m of page.items) {
      if (seen++ >= SNAPSHOT_MAX_MESSAGES) break
      if (!wanted || wanted.has(m.id)) picked.push(m)
    }
    if (!page.nextCursor || (wanted && picked.length === wanted.size)) break
    before = page.nextCursor
  }
  if (wanted && picked.length !== wanted.size) throw problems.badRequest('Some of the chosen messages are not in the conversation')
  const senders = [...new Set(picked.map((m) => m.senderId))]
  const names = new Map<string, string>()
  for (let i = 0; i < senders.length; i += 100) {
    const { users } = await natsRequest(nc, AuthUserLookup, { userIds: senders.slice(i, i + 100) }, ctx)
    for (const u of users) names.set(u.id, u.displayName)
  }
  return {
    messages: picked.reverse().map((m) => ({
      author: names.get(m.senderId) ?? 'Former member',
      agent: m.author.kind === 'agent',
      text: m.text,
      at: m.createdAt
    }))
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!)

/** The snapshot page: static HTML, everything escaped, no script, no style, no link, no image. */
export function renderSnapshot(snapshot: ConversationSnapshot): string {
  const items = snapshot.messages
    .map(
      (m) =>
        `<li><p><strong>${escapeHtml(m.author)}</strong>${m.agent ? ' (agent)' : ''} <time datetime="${escapeHtml(m.at)}">${escapeHtml(m.at)}</time></p><p>${escapeHtml(m.text).replace(/\n/g, '<br>')}</p></li>`
    )
    .join('\n')
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="robots" content="noindex, nofollow"><meta name="referrer" content="no-referrer"><title>Shared conversation</title></head>
<body>
<h1>Shared conversation</h1>
<p>A read-only copy of messages as they were when this link was made.</p>
<ol>
${items}
</ol>
</body>
</html>
`
}

/** Strict CSP of the snapshot page: nothing may load or run, no form, no framing, no base. */
export const SNAPSHOT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"
