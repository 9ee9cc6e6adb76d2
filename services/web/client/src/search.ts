/**
 * Message search across my conversations, with filters (`in:Title`, `from:Name`, `has:file`,
 * `before:`/`after:` dates; see search-filters.ts): each result says where, who and when; more than one
 * page is a "More results" away; a result opens its conversation at the message, highlighted, with
 * the messages around it.
 */
import type { Message, MessagePage } from '@palisade/contracts'
import { $, announce, h } from './dom.js'
import { api } from './api.js'
import { openConversation } from './conversation.js'
import { mentionText } from './mention-text.js'
import { revealMessage } from './message-list.js'
import { idsNamed, resolveNames } from './names.js'
import { toServerQuery } from './search-filters.js'
import { activeId, conversationList, getConversation, getMe, isMe } from './store.js'
import { clockTime, dayLabel, fullTime } from './times.js'
import { showError, showPanel, who } from './ui.js'

const PAGE = 20
const results = $('#search-list')
let query = ''
let cursor: string | null = null
const shown: Message[] = []

async function openHit(m: Message): Promise<void> {
  await openConversation(m.conversationId)
  if (!(await revealMessage(m.id))) announce('That message is no longer in the conversation.')
}

function resultView(m: Message): HTMLElement {
  const li = h(
    'li',
    { class: 'result' },
    h('button', {
      type: 'button',
      class: 'link',
      textContent: getConversation(m.conversationId)?.title ?? 'conversation',
      attrs: { 'aria-label': `Open in ${getConversation(m.conversationId)?.title ?? 'its conversation'}` },
      onclick: () => void openHit(m).catch(showError)
    }),
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'who', textContent: who(m) }),
      h('time', { dateTime: m.createdAt, title: fullTime(m.createdAt), textContent: `${dayLabel(m.createdAt)} ${clockTime(m.createdAt)}` })
    ),
    h('p', { class: 'text' }, ...mentionText(m))
  )
  li.dataset.id = m.id
  return li
}

function render(): void {
  resolveNames(shown.filter((m) => m.author.kind === 'user' && !isMe(m.senderId)).map((m) => m.senderId))
  results.replaceChildren(...(shown.length ? shown.map(resultView) : [h('li', { textContent: 'No messages found.' })]))
  const more = $('#search-more')
  more.hidden = cursor === null
}

async function fetchPage(): Promise<void> {
  const page = await api<MessagePage>(
    'GET',
    `/api/chat/search?q=${encodeURIComponent(query)}&limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
  )
  shown.push(...page.items)
  cursor = page.nextCursor
  render()
}

/** Author names arrived: the results' labels follow. */
export function refreshSearchAuthors(): void {
  for (const li of results.querySelectorAll<HTMLElement>('li[data-id]')) {
    const m = shown.find((x) => x.id === li.dataset.id)
    const label = li.querySelector('.who')
    if (m && label) label.textContent = who(m)
  }
}

export function wireSearch(): void {
  $('#search-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const input = ($('#search-q') as HTMLInputElement).value.trim()
    if (!input) return
    const me = getMe()
    const parsed = toServerQuery(input, {
      conversationsTitled: (title) =>
        conversationList()
          .filter((c) => c.title.toLowerCase() === title.toLowerCase())
          .map((c) => c.id),
      peopleNamed: (name) => [...idsNamed(name), ...(me && me.displayName.toLowerCase() === name.toLowerCase() ? [me.id] : [])]
    })
    if ('error' in parsed) {
      results.replaceChildren(h('li', { textContent: parsed.error }))
      $('#search-more').hidden = true
      showPanel('search-results')
      announce(parsed.error)
      return
    }
    query = parsed.q
    cursor = null
    shown.length = 0
    void fetchPage().then(() => showPanel('search-results'), showError)
  })
  $('#search-more').addEventListener('click', () => {
    const before = shown.length
    void fetchPage().then(() => results.querySelectorAll<HTMLElement>('li[data-id] button')[before]?.focus(), showError)
  })
  $('#close-search').addEventListener('click', () => showPanel(activeId() ? 'conversation' : 'empty'))
}
