/**
 * The thread panel: a message and its replies (oldest first), updated live from `message.created`,
 * `message.updated` and `message.deleted`, with its own message box whose sends carry `parentId`
 * (through the outbox, like every send). A deleted parent shows as a stub; its replies stay.
 */
import type { Message, ThreadPage } from '@palisade/contracts'
import { $, announce, h } from './dom.js'
import { api } from './api.js'
import { encodeMentions, wireMentionPicker } from './mention-picker.js'
import { nameNow } from './names.js'
import { mentionText } from './mention-text.js'
import { timeView } from './message-view.js'
import { queueSend } from './outbox.js'
import { reactionBar } from './reactions.js'
import { activeId, getConversation, subscribe } from './store.js'
import { person, showError, who } from './ui.js'

/** THREAD_LIMITS.pageMax of the contracts (a value import would pull the schemas into the bundle). */
const PAGE_MAX = 100

let parentId: string | undefined
let parent: Message | null = null
const replies = new Map<string, Message>()

const parentBox = h('ol', { class: 'thread-parent', attrs: { 'aria-label': 'Thread start' } })
const list = h('ol', { class: 'thread-replies', attrs: { 'aria-label': 'Replies', 'aria-live': 'polite' } })
const text = h('textarea', { rows: 2, maxLength: 8000, placeholder: 'Reply in thread (Enter sends)', attrs: { 'aria-label': 'Reply in thread' } })
const form = h('form', { class: 'thread-composer' }, text, h('button', { type: 'submit', textContent: 'Reply' }))
const panel = h(
  'aside',
  { class: 'thread-panel', hidden: true, attrs: { 'aria-label': 'Thread' } },
  h('div', { class: 'thread-head' }, h('h3', { textContent: 'Thread' }), h('button', { type: 'button', textContent: 'Close', onclick: () => closeThread() })),
  parentBox,
  list,
  form
)

function itemView(m: Message): HTMLElement {
  const li = h(
    'li',
    { class: 'msg' },
    h('div', { class: 'meta' }, h('span', { class: 'who', textContent: who(m) }), timeView(m.createdAt), m.editedAt ? ' (edited)' : null),
    h('p', { class: 'text' }, ...mentionText(m)),
    reactionBar(m)
  )
  li.dataset.id = m.id
  return li
}

function render(): void {
  parentBox.replaceChildren(parent ? itemView(parent) : h('li', { class: 'deleted-stub', textContent: 'Message deleted' }))
  list.replaceChildren(...[...replies.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)).map(itemView))
}

export async function openThread(conversationId: string, id: string): Promise<void> {
  parentId = id
  replies.clear()
  let after: string | null = null
  try {
    do {
      const page: ThreadPage = await api(
        'GET',
        `/api/chat/conversations/${conversationId}/messages/${id}/replies?limit=${PAGE_MAX}${after ? `&after=${after}` : ''}`
      )
      if (parentId !== id) return
      parent = page.parent
      for (const m of page.items) replies.set(m.id, m)
      after = page.nextCursor
    } while (after && replies.size < 1000)
  } catch (err) {
    showError(err)
    return closeThread()
  }
  render()
  panel.hidden = false
  text.focus()
}

export function closeThread(): void {
  parentId = undefined
  parent = null
  replies.clear()
  panel.hidden = true
}

export const threadOpenFor = (): string | undefined => parentId

/** Realtime: a new, changed or deleted message may belong to the open thread. */
export function threadMessage(m: Message): void {
  if (!parentId || m.conversationId !== activeId()) return
  if (m.id === parentId) parent = m
  else if (m.parentId === parentId) replies.set(m.id, m)
  else return
  render()
}

export function threadMessageDeleted(id: string): void {
  if (!parentId) return
  if (id === parentId) parent = null
  else if (!replies.delete(id)) return
  render()
}

export function onThreadReplied(e: { conversationId: string; senderId: string }): void {
  const title = getConversation(e.conversationId)?.title ?? 'a conversation'
  void nameNow(e.senderId).then(() => announce(`${person(e.senderId)} replied in a thread in ${title}`))
}

export function wireThreadPanel(): void {
  $('#conversation').append(panel)
  wireMentionPicker(text)
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const raw = text.value.trim()
    const conversationId = activeId()
    if (!raw || !conversationId || !parentId) return
    const { text: body, refs } = encodeMentions(text, raw)
    text.value = ''
    queueSend(conversationId, body, [], { ...refs, parentId })
  })
  text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault()
      form.requestSubmit()
    }
  })
  panel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') closeThread()
  })
  subscribe('active', closeThread)
}
