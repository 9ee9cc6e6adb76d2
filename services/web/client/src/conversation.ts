/** Opening and closing a conversation: the main panel, its title and the address bar. */
import { loadAgents, loadConversationRuns } from './agents.js'
import { $, clear } from './dom.js'
import { loadLatest } from './message-list.js'
import { closeNav } from './nav.js'
import { openShare, revealWhenSharing } from './share-action.js'
import { activeId, getConversation, setActive, subscribe } from './store.js'
import { els, showError, showPanel } from './ui.js'

const title = $('#conv-title')
const shareConversation = $('#share-conversation')

export async function openConversation(id: string): Promise<void> {
  setActive(id)
  history.replaceState(null, '', `/#c=${id}`)
  title.textContent = getConversation(id)?.title ?? ''
  showPanel('conversation')
  clear($('#messages'))
  clear($('#typing'))
  closeNav()
  revealWhenSharing(shareConversation)
  // Agents shared with this conversation join the agent bar; the conversation's runs label replies
  // (after the messages, so only cancelled runs newer than the last message come back below it).
  void loadAgents()
  const focused = document.activeElement
  await loadLatest()
  void loadConversationRuns(id)
  // The message box gets the focus unless the person moved it while the messages loaded (opened
  // Members and began typing an address): taking it then would send their keystrokes elsewhere.
  const stillThere = document.activeElement === focused || document.activeElement === document.body
  if (activeId() === id && stillThere) els.text.focus()
}

export function closeConversation(): void {
  setActive(undefined)
  els.conversation.hidden = true
  els.empty.hidden = false
  history.replaceState(null, '', '/')
}

export function wireConversation(): void {
  shareConversation.addEventListener('click', () => {
    const id = activeId()
    if (id) void openShare({ kind: 'conversation', conversationId: id, name: title.textContent ?? '' }, shareConversation).catch(showError)
  })
  // A renamed conversation: the open one's title follows.
  subscribe('conversations', () => {
    const id = activeId()
    const c = id ? getConversation(id) : undefined
    if (c) title.textContent = c.title
  })
}
