/** Message search across my conversations; a result opens its conversation. */
import type { MessagePage } from '@palisade/contracts'
import { $, h } from './dom.js'
import { api } from './api.js'
import { openConversation } from './conversation.js'
import { activeId, getConversation } from './store.js'
import { showError, showPanel } from './ui.js'

export function wireSearch(): void {
  $('#search-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const q = ($('#search-q') as HTMLInputElement).value.trim()
    if (!q) return
    void api<MessagePage>('GET', `/api/chat/search?q=${encodeURIComponent(q)}&limit=20`).then((page) => {
      $('#search-list').replaceChildren(
        ...(page.items.length
          ? page.items.map((m) =>
              h(
                'li',
                {},
                h('button', {
                  type: 'button',
                  class: 'link',
                  textContent: getConversation(m.conversationId)?.title ?? 'conversation',
                  onclick: () => void openConversation(m.conversationId)
                }),
                h('p', { textContent: m.text })
              )
            )
          : [h('li', { textContent: 'No messages found.' })])
      )
      showPanel('search-results')
    }, showError)
  })
  $('#close-search').addEventListener('click', () => showPanel(activeId() ? 'conversation' : 'empty'))
}
