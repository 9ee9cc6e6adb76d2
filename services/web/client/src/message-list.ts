/** The open conversation's messages: paging, rendering, editing and deleting my own. */
import type { FileMeta, Message, MessagePage } from '@palisade/contracts'
import { $, h } from './dom.js'
import { api } from './api.js'
import { resolveNames } from './names.js'
import { scheduleMarkRead } from './read-markers.js'
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
import { showError, time, who } from './ui.js'

const list = $('#messages')
let loadingOlder = false

/** Newest page of the active conversation, merged into what is shown (initial load and catch-up). */
export async function loadLatest(): Promise<void> {
  const id = activeId()
  if (!id) return
  const page: MessagePage = await api('GET', `/api/chat/conversations/${id}/messages?limit=50`)
  if (activeId() !== id) return
  batch(() => {
    const first = messageCount() === 0
    putMessages(page.items)
    if (first) setOlderCursor(page.nextCursor)
  })
  scrollToBottom()
  scheduleMarkRead()
}

async function loadOlder(): Promise<void> {
  const id = activeId()
  const cursor = getOlderCursor()
  if (!id || !cursor || loadingOlder) return
  loadingOlder = true
  try {
    const page: MessagePage = await api('GET', `/api/chat/conversations/${id}/messages?limit=50&before=${encodeURIComponent(cursor)}`)
    if (activeId() !== id) return
    const before = list.scrollHeight
    // One synchronous re-render, so the scroll position can be kept on what was on screen.
    batch(() => {
      putMessages(page.items)
      setOlderCursor(page.nextCursor)
    })
    list.scrollTop += list.scrollHeight - before
  } finally {
    loadingOlder = false
  }
}

function attachmentView(fileId: string): HTMLElement {
  const li = h('span', { class: 'attachment' }, h('span', { textContent: 'file…' }))
  void api<FileMeta>('GET', `/api/files/${fileId}`)
    .then((f) => {
      const url = `/api/files/${f.id}/content`
      const link = h('a', { href: `${url}?disposition=attachment`, textContent: f.name, attrs: { download: f.name } })
      if (f.type.startsWith('image/') && f.type !== 'image/svg+xml')
        li.replaceChildren(h('img', { src: `${url}?disposition=inline`, alt: f.name, loading: 'lazy' }), link)
      else li.replaceChildren(link, h('span', { class: 'meta', textContent: ` ${Math.ceil(f.size / 1024)} KiB` }))
    })
    .catch(() => li.replaceChildren(h('span', { textContent: 'file unavailable' })))
  return li
}

function messageView(m: Message): HTMLElement {
  const mine = isMe(m.senderId) && m.author.kind === 'user'
  const li = h(
    'li',
    { class: `msg${mine ? ' mine' : ''}${m.author.kind === 'agent' ? ' agent' : ''}` },
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'who', textContent: who(m) }),
      h('time', { dateTime: m.createdAt, textContent: time(m.createdAt) }),
      m.editedAt ? h('span', { textContent: ' (edited)' }) : null
    ),
    // textContent only: HTML in a message stays text
    h('p', { class: 'text', textContent: m.text }),
    m.attachments.length ? h('div', { class: 'attachments' }, ...m.attachments.map(attachmentView)) : null
  )
  li.dataset.id = m.id
  if (mine) {
    li.append(
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', textContent: 'Edit', attrs: { 'aria-label': 'Edit message' }, onclick: () => editMessage(m) }),
        h('button', { type: 'button', textContent: 'Delete', attrs: { 'aria-label': 'Delete message' }, onclick: () => void deleteMessage(m) })
      )
    )
  }
  return li
}

/** Rebuilds the list: messages, pending sends, streaming runs; stays at the bottom if it was there. */
export function renderMessages(): void {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
  const sorted = messageList()
  resolveNames(sorted.filter((m) => m.author.kind === 'user' && !isMe(m.senderId)).map((m) => m.senderId))
  const nodes: HTMLElement[] = sorted.map(messageView)
  if (getOlderCursor())
    nodes.unshift(h('li', { class: 'older' }, h('button', { type: 'button', textContent: 'Load older messages', onclick: () => void loadOlder() })))
  for (const [cid, p] of pendingSends()) {
    const li = h('li', { class: 'msg mine pending' }, h('div', { class: 'meta', textContent: 'sending…' }), h('p', { class: 'text', textContent: p.text }))
    li.dataset.clientId = cid
    nodes.push(li)
  }
  for (const r of runViews()) nodes.push(r.el)
  list.replaceChildren(...nodes)
  if (atBottom) scrollToBottom()
}

export function scrollToBottom(): void {
  list.scrollTop = list.scrollHeight
}

function editMessage(m: Message): void {
  const li = list.querySelector<HTMLElement>(`li[data-id="${m.id}"]`)
  if (!li) return
  const input = h('textarea', { value: m.text, maxLength: 8000, attrs: { 'aria-label': 'Edit message text' } })
  const form = h(
    'form',
    { class: 'edit' },
    input,
    h('button', { type: 'submit', textContent: 'Save' }),
    h('button', { type: 'button', textContent: 'Cancel', onclick: () => renderMessages() })
  )
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const text = input.value.trim()
    if (!text) return
    void api<Message>('PATCH', `/api/chat/conversations/${m.conversationId}/messages/${m.id}`, { text }).then((updated) => putMessages([updated]), showError)
  })
  li.querySelector('.text')?.replaceWith(form)
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

export function wireMessageList(): void {
  subscribe('messages', () => renderMessages())
  list.addEventListener('scroll', () => {
    if (list.scrollTop < 40) void loadOlder()
  })
}
