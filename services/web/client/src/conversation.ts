/** Opening and closing a conversation: the main panel, its title and the address bar. */
import { $, clear } from './dom.js'
import { loadLatest } from './message-list.js'
import { closeNav } from './nav.js'
import { activeId, getConversation, setActive, subscribe } from './store.js'
import { els, showPanel } from './ui.js'

const title = $('#conv-title')

export async function openConversation(id: string): Promise<void> {
  setActive(id)
  history.replaceState(null, '', `/#c=${id}`)
  title.textContent = getConversation(id)?.title ?? ''
  showPanel('conversation')
  clear($('#messages'))
  clear($('#typing'))
  closeNav()
  await loadLatest()
  els.text.focus()
}

export function closeConversation(): void {
  setActive(undefined)
  els.conversation.hidden = true
  els.empty.hidden = false
  history.replaceState(null, '', '/')
}

export function wireConversation(): void {
  // A renamed conversation: the open one's title follows.
  subscribe('conversations', () => {
    const id = activeId()
    const c = id ? getConversation(id) : undefined
    if (c) title.textContent = c.title
  })
}
