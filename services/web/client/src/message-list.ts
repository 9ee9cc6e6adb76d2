/**
 * The open conversation's messages: paging, rendering, editing and deleting my own.
 *
 * Rendering is incremental: every row has a key (message id, pending send, run, day, the "older"
 * button) and is rebuilt only when what it shows changed; new rows are inserted, gone ones removed,
 * the rest stay the same nodes (an open edit form, a loaded image, focus all survive). The list
 * stays at its bottom when the reader was there, also when images arrive.
 */
import type { Message, MessagePage } from '@palisade/contracts'
import { $, h } from './dom.js'
import { api } from './api.js'
import { runSignature } from './agent-replies.js'
import { resolveNames } from './names.js'
import { discardSend, retrySend } from './outbox.js'
import { scheduleMarkRead } from './read-markers.js'
import { dayView, messageView, pendingView, type MessageActions } from './message-view.js'
import { extrasSig } from './message-extras.js'
import { encodeMentions, prepareEdit } from './mention-picker.js'
import {
  activeId,
  batch,
  getMessage,
  getOlderCursor,
  isMe,
  messageCount,
  messageList,
  pendingSends,
  putMessages,
  removeMessage,
  runViews,
  setOlderCursor,
  subscribe
} from './store.js'
import { dayKey } from './times.js'
import { showError, who } from './ui.js'

const list = $('#messages')
/** Whether the reader is at the bottom (kept from scroll events: content changes do not move it). */
let stuck = true
/** key → the row on screen and the signature of what it shows */
const rows = new Map<string, { el: HTMLElement; sig: string }>()

const actions: MessageActions = {
  edit: (m) => editMessage(m),
  remove: (m) => void deleteMessage(m),
  retry: (cid) => retrySend(cid),
  discard: (cid) => discardSend(cid),
  grew: () => {
    if (stuck) scrollToBottom()
  }
}

/** Newest page of the active conversation, merged into what is shown (initial load and catch-up). */
export async function loadLatest(): Promise<void> {
  const id = activeId()
  if (!id) return
  const page: MessagePage = await api('GET', `/api/chat/conversations/${id}/messages?limit=50`)
  if (activeId() !== id) return
  const first = messageCount() === 0
  if (first) stuck = true
  batch(() => {
    putMessages(page.items)
    if (first) setOlderCursor(page.nextCursor)
  })
  if (stuck) scrollToBottom()
  scheduleMarkRead()
}

let olderInFlight: Promise<void> | undefined

/** The page before the oldest shown; a call while one is loading waits for that one. */
function loadOlder(): Promise<void> {
  olderInFlight ??= loadOlderPage().finally(() => (olderInFlight = undefined))
  return olderInFlight
}

async function loadOlderPage(): Promise<void> {
  const id = activeId()
  const cursor = getOlderCursor()
  if (!id || !cursor) return
  const page: MessagePage = await api('GET', `/api/chat/conversations/${id}/messages?limit=50&before=${encodeURIComponent(cursor)}`)
  if (activeId() !== id) return
  const before = list.scrollHeight
  // One synchronous render, so the scroll position can be kept on what was on screen.
  batch(() => {
    putMessages(page.items)
    setOlderCursor(page.nextCursor)
  })
  list.scrollTop += list.scrollHeight - before
}

/** Pages searched back for a message before giving up (a search hit far in the past). */
const REVEAL_MAX_PAGES = 20

/**
 * Shows one message of the open conversation in the middle of the list, highlighted and focused,
 * with everything newer and a page of older messages around it (pages back from the newest until
 * it is there). Returns whether it was found.
 */
export async function revealMessage(messageId: string): Promise<boolean> {
  const id = activeId()
  for (let i = 0; i < REVEAL_MAX_PAGES && activeId() === id && !getMessage(messageId) && getOlderCursor(); i++) await loadOlder()
  // Older context: the hit should not be the oldest row shown.
  if (messageList()[0]?.id === messageId && getOlderCursor()) await loadOlder()
  const row = rows.get(`m:${messageId}`)?.el
  if (!row || activeId() !== id) return false
  for (const old of list.querySelectorAll('.hit')) old.classList.remove('hit')
  stuck = false
  row.classList.add('hit')
  row.scrollIntoView({ block: 'center' })
  row.focus({ preventScroll: true })
  return true
}

type Row = [key: string, sig: string, build: () => HTMLElement]

/** What should be on screen, in order. */
function desiredRows(): Row[] {
  const out: Row[] = []
  if (getOlderCursor())
    out.push([
      'older',
      '',
      () => h('li', { class: 'older' }, h('button', { type: 'button', textContent: 'Load older messages', onclick: () => void loadOlder() }))
    ])
  let day = ''
  for (const m of messageList()) {
    const d = dayKey(m.createdAt)
    if (d !== day) {
      day = d
      out.push([`d:${d}`, '', () => dayView(m.createdAt)])
    }
    const run = m.author.kind === 'agent' ? runSignature(m.author.agentRunId) : ''
    out.push([`m:${m.id}`, `${m.editedAt ?? ''}|${m.text}|${m.attachments.join(',')}|${run}|${extrasSig(m)}`, () => messageView(m, actions)])
  }
  const id = activeId()
  for (const [cid, p] of pendingSends())
    if (p.conversationId === id) out.push([`p:${cid}`, `${p.state}|${p.error ?? ''}|${p.text}`, () => pendingView(cid, p, actions)])
  for (const r of runViews()) out.push([`r:${r.el.dataset.run}`, '', () => r.el])
  return out
}

/** Brings the list in line with the store, touching only the rows that changed. */
export function renderMessages(): void {
  const sorted = messageList()
  resolveNames(sorted.filter((m) => m.author.kind === 'user' && !isMe(m.senderId)).map((m) => m.senderId))
  const want = desiredRows()
  const keys = new Set(want.map(([k]) => k))
  for (const [k, row] of rows)
    if (!keys.has(k)) {
      row.el.remove()
      rows.delete(k)
    }
  const nodes: HTMLElement[] = []
  for (const [k, sig, build] of want) {
    const old = rows.get(k)
    if (old && old.sig === sig) {
      nodes.push(old.el)
      continue
    }
    const el = build()
    if (old) old.el.replaceWith(el) // changed in place: nothing after it moves
    rows.set(k, { el, sig })
    nodes.push(el)
  }
  // Insert what is new where it belongs; rows already in order are left alone.
  let cursor = list.firstElementChild
  for (const el of nodes) {
    if (el === cursor) cursor = cursor.nextElementSibling
    else list.insertBefore(el, cursor)
  }
  while (cursor) {
    const next = cursor.nextElementSibling
    cursor.remove()
    cursor = next
  }
  if (stuck) scrollToBottom()
}

/** Another conversation: nothing of the last one is kept. */
export function resetMessages(): void {
  rows.clear()
  list.replaceChildren()
  stuck = true
}

export function scrollToBottom(): void {
  list.scrollTop = list.scrollHeight
}

function editMessage(m: Message): void {
  const li = rows.get(`m:${m.id}`)?.el
  if (!li) return
  const input = h('textarea', { value: m.text, maxLength: 8000, attrs: { 'aria-label': 'Edit message text' } })
  const text = li.querySelector('.text')
  const cancel = (): void => {
    form.replaceWith(text ?? '')
    li.focus()
  }
  const form = h(
    'form',
    { class: 'edit' },
    input,
    h('button', { type: 'submit', textContent: 'Save' }),
    h('button', { type: 'button', textContent: 'Cancel', onclick: cancel })
  )
  form.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault()
      ev.stopPropagation()
      cancel()
    }
  })
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const value = input.value.trim()
    if (!value) return
    void api<Message>('PATCH', `/api/chat/conversations/${m.conversationId}/messages/${m.id}`, { text: encodeMentions(input, value).text }).then(
      (updated) => putMessages([updated]),
      showError
    )
  })
  prepareEdit(input, m)
  text?.replaceWith(form)
  input.focus()
}

async function deleteMessage(m: Message): Promise<void> {
  if (!confirm('Delete this message?')) return
  try {
    await api('DELETE', `/api/chat/conversations/${m.conversationId}/messages/${m.id}`)
    removeMessage(m.id)
  } catch (err) {
    showError(err)
  }
}

/** Author names arrived: the labels change in place (an open edit form survives). */
export function refreshAuthors(): void {
  for (const li of list.querySelectorAll<HTMLElement>('li[data-id]')) {
    const m = getMessage(li.dataset.id!)
    const label = li.querySelector('.who')
    if (m && label) label.textContent = who(m)
  }
}

/** Arrow keys move between messages (one Tab stop for the whole list); Home/End jump. */
function moveFocus(ev: KeyboardEvent): void {
  if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(ev.key)) return
  const target = ev.target as HTMLElement
  if (target !== list && target.parentElement !== list) return
  const items = [...list.querySelectorAll<HTMLElement>(':scope > li.msg')]
  if (!items.length) return
  const at = items.indexOf(target)
  const next =
    ev.key === 'Home' ? 0 : ev.key === 'End' || at === -1 ? items.length - 1 : Math.max(0, Math.min(items.length - 1, at + (ev.key === 'ArrowUp' ? -1 : 1)))
  ev.preventDefault()
  items[next]!.focus()
}

export function wireMessageList(): void {
  subscribe('messages', () => renderMessages())
  subscribe('active', () => {
    resetMessages()
    renderMessages() // the outbox's unsent messages of this conversation, before its page arrives
  })
  list.addEventListener('scroll', () => {
    stuck = list.scrollHeight - list.scrollTop - list.clientHeight < 40
    if (list.scrollTop < 40) void loadOlder()
  })
  list.addEventListener('keydown', moveFocus)
}
