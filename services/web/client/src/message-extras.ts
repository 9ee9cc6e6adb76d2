/**
 * What issue 26 adds to a message in the list: mention chips in the text, "Reply" (threads are one
 * level: replies have none), the parent's reply count with its latest repliers, a reply's link to
 * its thread, and the reactions.
 */
import './interactions.css'
import type { Message } from '@palisade/contracts'
import { h } from './dom.js'
import { resolveNames } from './names.js'
import { chipMentions, mentionsMe, refreshMentionNames } from './mention-text.js'
import { reactionBar, reactionsSig, refreshReactionNames } from './reactions.js'
import { isMe } from './store.js'
import { openThread } from './thread-panel.js'
import { person } from './ui.js'

/** What the additions show, for the list's change detection. */
export const extrasSig = (m: Message): string => `${m.thread?.replyCount ?? 0}${m.thread?.repliers.join('') ?? ''}|${reactionsSig(m)}`

const names = (ids: string[]): string => ids.map((id) => (isMe(id) ? 'you' : person(id))).join(', ')

function labelSummary(el: HTMLElement): void {
  const n = Number(el.dataset.count)
  el.textContent = `${n} ${n === 1 ? 'reply' : 'replies'} · ${names(el.dataset.users ? el.dataset.users.split(',') : [])}`
}

/** Names learnt after rendering: mention chips, reaction names and thread summaries follow. */
export function refreshExtrasNames(): void {
  refreshMentionNames()
  refreshReactionNames()
  for (const el of document.querySelectorAll<HTMLElement>('.thread-summary[data-users]')) labelSummary(el)
}

export function decorateMessage(li: HTMLElement, m: Message): void {
  const text = li.querySelector<HTMLElement>('.text')
  if (text) chipMentions(text, m)
  if (mentionsMe(m)) li.classList.add('mentions-me')
  resolveNames([...(m.thread?.repliers ?? []), ...m.reactions.flatMap((r) => r.userIds)].filter((id) => !isMe(id)))
  const open = (id: string) => () => void openThread(m.conversationId, id)
  if (m.parentId) {
    li.querySelector('.meta')?.after(h('button', { type: 'button', class: 'link in-thread', textContent: '↪ in a thread', onclick: open(m.parentId) }))
  } else {
    const tools = h(
      'span',
      { class: 'msg-tools' },
      h('button', { type: 'button', textContent: 'Reply', attrs: { 'aria-label': 'Reply in thread' }, onclick: open(m.id) })
    )
    li.querySelector('.meta')?.append(tools)
  }
  const summary = m.thread ? h('button', { type: 'button', class: 'link thread-summary', onclick: open(m.id) }) : null
  if (summary && m.thread) {
    Object.assign(summary.dataset, { count: String(m.thread.replyCount), users: m.thread.repliers.join(',') })
    labelSummary(summary)
  }
  li.append(...[summary, reactionBar(m)].filter((x): x is HTMLElement => x !== null))
}
