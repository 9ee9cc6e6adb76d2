/**
 * One message as DOM: author, time (full date and time on hover and focus), text (Markdown built
 * from elements and text nodes, markdown.ts), attachments and, for my own, the actions (shown when
 * the message is hovered or has focus, so they are not a Tab stop each). Also the pending bubble of an unsent message and the day
 * separator. Builders only: message-list.ts decides what is on screen.
 */
import type { Message } from '@palisade/contracts'
import { replyActions } from './agent-replies.js'
import { h } from './dom.js'
import { attachmentView } from './attachment-view.js'
import { decorateMessage } from './message-extras.js'
import { markdownView } from './markdown.js'
import { chipMentions } from './mention-text.js'
import type { PendingSend } from './store.js'
import { clockTime, dayLabel, fullTime } from './times.js'
import { isMe } from './store.js'
import { who } from './ui.js'

export interface MessageActions {
  edit(m: Message): void
  remove(m: Message): void
  retry(clientMessageId: string): void
  discard(clientMessageId: string): void
  /** an attachment finished loading (the list may need to stay at its bottom) */
  grew(): void
}

export function timeView(iso: string): HTMLElement {
  const full = fullTime(iso)
  return h('time', { dateTime: iso, title: full }, clockTime(iso), h('span', { class: 'full-time', textContent: ` · ${full}` }))
}

export function messageView(m: Message, actions: MessageActions): HTMLElement {
  const mine = isMe(m.senderId) && m.author.kind === 'user'
  // Markdown built as elements and text nodes (markdown.ts): HTML in a message stays text. Its
  // renderer may arrive later and redraw the text: the mention chips are then put back.
  const text: HTMLElement = markdownView(m.text, () => {
    chipMentions(text, m)
    actions.grew()
  })
  const li = h(
    'li',
    { class: `msg${mine ? ' mine' : ''}${m.author.kind === 'agent' ? ' agent' : ''}`, tabIndex: -1 },
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'who', textContent: who(m) }),
      timeView(m.createdAt),
      m.editedAt ? h('span', { textContent: ' (edited)' }) : null,
      // In the header, before the text and attachments: Tab from the focused message reaches them first.
      mine
        ? h(
            'span',
            { class: 'actions' },
            h('button', { type: 'button', textContent: 'Edit', attrs: { 'aria-label': 'Edit message' }, onclick: () => actions.edit(m) }),
            h('button', { type: 'button', textContent: 'Delete', attrs: { 'aria-label': 'Delete message' }, onclick: () => actions.remove(m) })
          )
        : m.author.kind === 'agent'
          ? replyActions(m.author.agentRunId, () => m.text)
          : null
    ),
    text,
    m.attachments.length ? h('div', { class: 'attachments' }, ...m.attachments.map((id) => attachmentView(id, () => actions.grew()))) : null
  )
  li.dataset.id = m.id
  decorateMessage(li, m)
  return li
}

const PENDING_LABEL: Record<PendingSend['state'], string> = {
  sending: 'sending…',
  waiting: 'not sent yet: waiting for the connection',
  failed: 'not sent'
}

export function pendingView(clientMessageId: string, p: PendingSend, actions: MessageActions): HTMLElement {
  const li = h(
    'li',
    { class: `msg mine pending ${p.state}`, tabIndex: -1 },
    h('div', { class: 'meta', textContent: p.state === 'waiting' && p.error ? `not sent yet: ${p.error}` : PENDING_LABEL[p.state] }),
    markdownView(p.text),
    p.state === 'failed'
      ? h(
          'div',
          { class: 'send-failed' },
          h('span', { class: 'error', textContent: p.error ?? 'The server refused it.', attrs: { role: 'alert' } }),
          h('button', { type: 'button', textContent: 'Retry', onclick: () => actions.retry(clientMessageId) }),
          h('button', { type: 'button', textContent: 'Discard', onclick: () => actions.discard(clientMessageId) })
        )
      : null
  )
  li.dataset.clientId = clientMessageId
  return li
}

export function dayView(iso: string): HTMLElement {
  return h('li', { class: 'day' }, h('span', { textContent: dayLabel(iso) }))
}
