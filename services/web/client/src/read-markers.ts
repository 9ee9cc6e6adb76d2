/** Read markers: the server keeps them; this tab marks the open conversation read while it is visible. */
import type { Message } from '@palisade/contracts'
import { api } from './api.js'
import { activeId, clearUnread, messageList } from './store.js'

export const pageVisible = (): boolean => document.visibilityState === 'visible'

/** the last message each conversation was marked read up to from this tab (skips repeats) */
const markedRead = new Map<string, string>()
let markTimer: ReturnType<typeof setTimeout> | undefined

/** Marks the open conversation read up to its newest message, soon (a burst of messages: one request). */
export function scheduleMarkRead(): void {
  clearTimeout(markTimer)
  markTimer = setTimeout(markActiveRead, 250)
}

function markActiveRead(): void {
  const id = activeId()
  if (!id || !pageVisible()) return
  let newest: Message | undefined
  for (const m of messageList()) {
    if (m.conversationId !== id) continue
    if (!newest || m.createdAt > newest.createdAt || (m.createdAt === newest.createdAt && m.id > newest.id)) newest = m
  }
  clearUnread(id)
  if (!newest || markedRead.get(id) === newest.id) return
  markedRead.set(id, newest.id)
  // Best effort: a message deleted meanwhile answers 404, and the next message marks again.
  void api('POST', `/api/chat/conversations/${id}/read`, { messageId: newest.id }).catch(() => {
    if (markedRead.get(id) === newest.id) markedRead.delete(id)
  })
}

export function wireReadMarkers(): void {
  document.addEventListener('visibilitychange', () => {
    if (pageVisible()) scheduleMarkRead()
  })
}
