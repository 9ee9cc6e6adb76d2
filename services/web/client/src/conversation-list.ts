/**
 * The sidebar: my conversations, most recently active first, with unread badges; a filter box over
 * them; the archived ones apart (loaded when that section is opened); creating one.
 */
import type { Conversation, ConversationPage, NotifyLevel } from '@palisade/contracts'
import { $, clear, h } from './dom.js'
import { api } from './api.js'
import { openConversation } from './conversation.js'
import { pageVisible } from './read-markers.js'
import { UNREAD_CAP, activeId, conversationList, mentionsOf, notifyLevelOf, putConversation, setConversations, subscribe, unreadOf } from './store.js'
import { showError } from './ui.js'

const list = $('#conv-list')
const archivedList = $('#archived-list')
const archived = $('#archived') as HTMLDetailsElement
const filter = $('#conv-filter') as HTMLInputElement

/** Title or topic contains every word typed, ignoring case. */
export function matchesFilter(c: Pick<Conversation, 'title' | 'topic'>, query: string): boolean {
  const hay = `${c.title} ${c.topic}`.toLocaleLowerCase()
  return query
    .toLocaleLowerCase()
    .split(/\s+/)
    .every((w) => hay.includes(w))
}

/**
 * The badge says how much is unread; how loud it is follows my notification level: `all` (and
 * mentions at any level but `none`) emphasised, `mentions` plain, `none` muted.
 */
function badgeOf(id: string, level: NotifyLevel): HTMLElement | null {
  const unread = unreadOf(id)
  if (unread === 0) return null
  const count = unread >= UNREAD_CAP ? `${UNREAD_CAP}+` : String(unread)
  const tone = level === 'none' ? 'muted' : level === 'all' || mentionsOf(id) > 0 ? 'strong' : 'plain'
  return h('span', { class: `badge ${tone}`, textContent: count, attrs: { 'aria-label': `${count} unread` } })
}

function item(c: Conversation, active: string | undefined): HTMLElement {
  const btn = h(
    'button',
    { type: 'button', class: `conv${c.id === active ? ' active' : ''}`, onclick: () => void openConversation(c.id) },
    h('span', { class: 'conv-title', textContent: c.title }),
    badgeOf(c.id, notifyLevelOf(c.id))
  )
  if (c.topic) btn.title = c.topic
  if (c.id === active) btn.setAttribute('aria-current', 'true')
  btn.dataset.id = c.id
  return h('li', {}, btn)
}

function renderConversations(): void {
  const active = activeId()
  const query = filter.value.trim()
  clear(list)
  clear(archivedList)
  let shown = 0
  for (const c of conversationList()) {
    if (query && !matchesFilter(c, query)) continue
    if (c.archivedAt) archivedList.append(item(c, active))
    else {
      list.append(item(c, active))
      shown++
    }
  }
  if (query && shown === 0) list.append(h('li', { class: 'meta', textContent: 'No conversation matches.' }))
}

async function loadPages(archivedOnly: boolean, each: (c: ConversationPage['items'][number]) => void): Promise<void> {
  let cursor: string | null = null
  let n = 0
  do {
    const page: ConversationPage = await api(
      'GET',
      `/api/chat/conversations?limit=100${archivedOnly ? '&archived=true' : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
    )
    for (const c of page.items) each(c)
    n += page.items.length
    cursor = page.nextCursor
  } while (cursor && n < 1000)
}

export async function loadConversations(): Promise<void> {
  const seen = new Map<string, Conversation>()
  const unread = new Map<string, number>()
  const levels = new Map<string, NotifyLevel>()
  await loadPages(false, ({ unreadCount, notifyLevel, ...c }) => {
    seen.set(c.id, c)
    if (unreadCount > 0) unread.set(c.id, unreadCount)
    if (notifyLevel !== 'all') levels.set(c.id, notifyLevel)
  })
  // The open conversation is being read (it is marked read once its newest messages are loaded).
  const active = activeId()
  if (active && pageVisible()) unread.delete(active)
  setConversations(seen, unread, levels)
  if (archived.open) await loadArchived()
}

/** Archived conversations join the store (the list shows them under "Archived"). */
async function loadArchived(): Promise<void> {
  await loadPages(true, ({ unreadCount: _u, notifyLevel: _n, ...c }) => putConversation(c))
}

export function wireConversationList(): void {
  subscribe('conversations', renderConversations)
  filter.addEventListener('input', renderConversations)
  archived.addEventListener('toggle', () => {
    if (archived.open) void loadArchived().catch(showError)
  })
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
