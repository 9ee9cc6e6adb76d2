/**
 * The open conversation's settings panel and header: title and topic, the archived banner (the
 * composer is disabled while archived), and rename, topic, archive/restore, transfer, leave,
 * delete (owner-only controls hidden from members; the server enforces it either way) and my
 * notification level.
 */
import type { Conversation, MemberPage, NotifyLevel } from '@palisade/contracts'
import { $, announce, h } from './dom.js'
import { api, ApiError } from './api.js'
import { closeConversation } from './conversation.js'
import { resolveNames } from './names.js'
import { activeId, getConversation, getMe, isMe, notifyLevelOf, putConversation, removeConversation, setNotifyLevel, subscribe } from './store.js'
import { els, person } from './ui.js'

const panel = $('#conv-settings')
const toggle = $('#toggle-conv-settings')
const error = $('#conv-settings-error')
const transferTo = $('#conv-transfer-to') as HTMLSelectElement

const iOwn = (c: Conversation | undefined): boolean => c !== undefined && c.ownerId === getMe()?.id

/** Runs a change; the server's refusal (403, 409 archived, ...) shows in the panel. */
async function attempt(fn: () => Promise<void>): Promise<void> {
  error.textContent = ''
  try {
    await fn()
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.message : 'That did not work.'
  }
}

function render(): void {
  const id = activeId()
  const c = id ? getConversation(id) : undefined
  $('#conv-topic').textContent = c?.topic ?? ''
  const archived = Boolean(c?.archivedAt)
  $('#archived-banner').hidden = !archived
  els.text.disabled = archived
  els.text.placeholder = archived ? 'Archived: read-only' : 'Write a message (Enter sends, Shift+Enter new line)'
  for (const el of panel.querySelectorAll<HTMLElement>('.owner-only')) el.hidden = !iOwn(c)
  $('#conv-archive').textContent = archived ? 'Restore' : 'Archive'
  ;($('#conv-notify') as HTMLSelectElement).value = id ? notifyLevelOf(id) : 'all'
  if (c && document.activeElement !== $('#conv-rename-title')) ($('#conv-rename-title') as HTMLInputElement).value = c.title
  if (c && document.activeElement !== $('#conv-topic-input')) ($('#conv-topic-input') as HTMLInputElement).value = c.topic
}

/** The members I could hand the conversation to. */
async function loadTransferTargets(id: string): Promise<void> {
  if (!iOwn(getConversation(id))) return
  const page = await api<MemberPage>('GET', `/api/chat/conversations/${id}/members?limit=100`)
  const others = page.items.filter((m) => !isMe(m.userId))
  resolveNames(others.map((m) => m.userId))
  transferTo.replaceChildren(...others.map((m) => h('option', { value: m.userId, textContent: person(m.userId) })))
}

async function update(id: string, method: 'PATCH' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<void> {
  putConversation(await api<Conversation>(method, `/api/chat/conversations/${id}${path}`, body))
}

export function wireConversationSettings(): void {
  subscribe('conversations', render)
  subscribe('active', () => {
    panel.hidden = true
    toggle.setAttribute('aria-expanded', 'false')
    error.textContent = ''
    render()
  })
  toggle.addEventListener('click', () => {
    panel.hidden = !panel.hidden
    toggle.setAttribute('aria-expanded', String(!panel.hidden))
    const id = activeId()
    if (!panel.hidden && id) void attempt(() => loadTransferTargets(id))
  })
  $('#conv-rename').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const id = activeId()
    const title = ($('#conv-rename-title') as HTMLInputElement).value.trim()
    if (id && title) void attempt(() => update(id, 'PATCH', '', { title }))
  })
  $('#conv-topic-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const id = activeId()
    const topic = ($('#conv-topic-input') as HTMLInputElement).value.trim()
    if (id) void attempt(() => update(id, 'PATCH', '', { topic }))
  })
  $('#conv-archive').addEventListener('click', () => {
    const id = activeId()
    if (id) void attempt(() => update(id, getConversation(id)?.archivedAt ? 'DELETE' : 'PUT', '/archive'))
  })
  $('#conv-transfer').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const id = activeId()
    const userId = transferTo.value
    if (id && userId) void attempt(() => update(id, 'POST', '/transfer', { userId }).then(() => announce(`${person(userId)} now owns the conversation`)))
  })
  $('#conv-notify').addEventListener('change', () => {
    const id = activeId()
    const notifyLevel = ($('#conv-notify') as HTMLSelectElement).value as NotifyLevel
    if (id)
      void attempt(async () => {
        await api('PUT', `/api/chat/conversations/${id}/notifications`, { notifyLevel })
        setNotifyLevel(id, notifyLevel)
      })
  })
  $('#conv-leave').addEventListener('click', () => {
    const id = activeId()
    if (!id) return
    void attempt(async () => {
      await api('POST', `/api/chat/conversations/${id}/leave`)
      removeConversation(id)
      closeConversation()
    })
  })
  $('#conv-delete').addEventListener('click', () => {
    const id = activeId()
    if (!id || !confirm('Delete this conversation, its messages and files for everyone?')) return
    void attempt(async () => {
      await api('DELETE', `/api/chat/conversations/${id}`)
      removeConversation(id)
      closeConversation()
    })
  })
}
