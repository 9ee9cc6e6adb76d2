/**
 * Unread mentions per conversation, a badge of their own in the conversation list (the server counts
 * mentions after my read marker, so reading resets them), and the `mention.created` event every
 * session of mine receives.
 */
import type { MentionCounts, MentionCreatedEvent } from '@palisade/contracts'
import { $, announce, h } from './dom.js'
import { api } from './api.js'
import { nameNow } from './names.js'
import { pageVisible } from './read-markers.js'
import { activeId, getConversation, subscribe } from './store.js'
import { person } from './ui.js'

/** MENTION_LIMITS.countMax of the contracts (a value import would pull the schemas into the bundle). */
const COUNT_MAX = 999

const counts = new Map<string, number>()
let refetch: ReturnType<typeof setTimeout> | undefined

export const mentionCountOf = (id: string): number => counts.get(id) ?? 0

export async function loadMentionCounts(): Promise<void> {
  const { items } = await api<MentionCounts>('GET', '/api/chat/mentions')
  counts.clear()
  for (const c of items) counts.set(c.conversationId, c.count)
  const active = activeId()
  if (active && pageVisible()) counts.delete(active)
  decorateList()
}

/** The read marker moved (in any session of mine): what is left comes from the server. */
export function mentionsRead(conversationId: string): void {
  if (!counts.has(conversationId)) return
  clearTimeout(refetch)
  refetch = setTimeout(() => void loadMentionCounts().catch(() => {}), 200)
}

export function onMention(e: MentionCreatedEvent): void {
  const title = getConversation(e.conversationId)?.title ?? 'a conversation'
  void nameNow(e.senderId).then(() => announce(`${person(e.senderId)} mentioned ${e.mass ? 'everyone' : 'you'} in ${title}`))
  if (e.conversationId === activeId() && pageVisible()) return
  counts.set(e.conversationId, Math.min(COUNT_MAX, mentionCountOf(e.conversationId) + 1))
  decorateList()
}

/** Adds the "@ n" badge to the list's rows (after each render of the list). */
function decorateList(): void {
  for (const btn of $('#conv-list').querySelectorAll<HTMLElement>('button.conv[data-id]')) {
    btn.querySelector('.mention-badge')?.remove()
    const n = mentionCountOf(btn.dataset.id!)
    if (n === 0) continue
    const text = n >= COUNT_MAX ? `${COUNT_MAX}+` : String(n)
    btn.append(h('span', { class: 'badge mention-badge', textContent: `@${text}`, attrs: { 'aria-label': `${text} unread mention${n === 1 ? '' : 's'}` } }))
  }
}

export function wireMentionCounts(): void {
  // Subscribed after the list's own renderer (main.ts wires the list first): this decorates its rows.
  subscribe('conversations', decorateList)
  subscribe('active', () => {
    const id = activeId()
    if (id && counts.delete(id)) decorateList()
  })
}
