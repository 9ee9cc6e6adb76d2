/** Small helpers every feature shares: error display, people's labels, times, the main panels. */
import type { Message } from '@palisade/contracts'
import { $, announce } from './dom.js'
import { ApiError, SignedOutError } from './api.js'
import { runLabel } from './agent-replies.js'
import { nameOf } from './names.js'
import { isMe } from './store.js'

export const newId = (): string => crypto.randomUUID()
const short = (id: string): string => id.slice(0, 8)
/** Someone else's display name from the user directory, a short id until it is known. */
export const person = (id: string): string => nameOf(id) ?? `Member ${short(id)}`
export const who = (m: Message): string => (m.author.kind === 'agent' ? runLabel(m.author.agentRunId) : isMe(m.senderId) ? 'You' : person(m.senderId))
export const time = (iso: string): string => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

export const els = {
  conn: $('#conn'),
  conversation: $('#conversation'),
  empty: $('#empty'),
  text: $('#composer-text') as HTMLTextAreaElement
}

export function showError(err: unknown): void {
  if (err instanceof SignedOutError) return // on the way to /login: not an error of this page
  const msg = err instanceof ApiError ? err.message : 'Something went wrong'
  announce(msg)
  els.conn.textContent = msg
}

type Panel = 'conversation' | 'empty' | 'search-results' | 'settings' | 'admin'

/** Shows one of the main area's panels and hides the others. */
export function showPanel(panel: Panel): void {
  for (const p of ['conversation', 'empty', 'search-results', 'settings', 'admin'] as const) $(`#${p}`).hidden = p !== panel
}
