/** The sidebar: my conversations, most recently active first, with unread badges; creating one. */
import type { Conversation, ConversationPage } from '@palisade/contracts'
import { $, clear, h } from './dom.js'
import { api } from './api.js'
import { openConversation } from './conversation.js'
import { pageVisible } from './read-markers.js'
import { UNREAD_CAP, activeId, conversationList, putConversation, setConversations, subscribe, unreadOf } from './store.js'
import { showError } from './ui.js'

const list = $('#conv-list')

function renderConversations(): void {
  const active = activeId()
  clear(list)
  for (const c of conversationList()) {
    const unread = unreadOf(c.id)
    const count = unread >= UNREAD_CAP ? `${UNREAD_CAP}+` : String(unread)
    const btn = h(
      'button',
      { type: 'button', class: `conv${c.id === active ? ' active' : ''}`, onclick: () => void openConversation(c.id) },
      h('span', { class: 'conv-title', textContent: c.title }),
      unread > 0 ? h('span', { class: 'badge', textContent: count, attrs: { 'aria-label': `${count} unread` } }) : null
    )
    if (c.id === active) btn.setAttribute('aria-current', 'true')
    btn.dataset.id = c.id
    list.append(h('li', {}, btn))
  }
}

export async function loadConversations(): Promise<void> {
  let cursor: string | null = null
  const seen = new Map<string, Conversation>()
  const unread = new Map<string, number>()
  do {
    const page: ConversationPage = await api('GET', `/api/chat/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    for (const { unreadCount, ...c } of page.items) {
      seen.set(c.id, c)
      if (unreadCount > 0) unread.set(c.id, unreadCount)
    }
    cursor = page.nextCursor
  } while (cursor && seen.size < 1000)
  // The open conversation is being read (it is marked read once its newest messages are loaded).
  const active = activeId()
  if (active && pageVisible()) unread.delete(active)
  setConversations(seen, unread)
}

export function wireConversationList(): void {
  subscribe('conversations', renderConversations)
  $('#new-conv').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const input = $('#new-conv-title') as HTMLInputElement
    const title = input.value.trim()
    if (!title) return
    void api<Conversation>('POST', '/api/chat/conversations', { title }).then((c) => {
      input.value = ''
      putConversation(c)
      return openConversation(c.id)
    }, showError)
  })
}
