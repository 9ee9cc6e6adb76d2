/**
 * Reactions under a message: one toggle button per emoji (pressed when mine) whose title and
 * accessible name list who reacted, and a small picker of common Unicode emoji. The server checks
 * every emoji; members see changes through `message.updated`.
 */
import type { Message } from '@palisade/contracts'
import { h } from './dom.js'
import { api } from './api.js'
import { getMe, isMe, putMessages } from './store.js'
import { person, showError } from './ui.js'

/** REACTION_LIMITS.distinctMax of the contracts (a value import would pull the schemas into the bundle). */
const DISTINCT_MAX = 20
const PICKER = ['👍', '❤️', '😂', '🎉', '😮', '😢', '👀', '🙏']

function react(m: Message, emoji: string, reacted: boolean): void {
  void api<Message>('PUT', `/api/chat/conversations/${m.conversationId}/messages/${m.id}/reactions`, { emoji, reacted }).then(
    (updated) => putMessages([updated]),
    showError
  )
}

const nameList = (ids: string[], count: number): string => {
  const names = ids.map((id) => (isMe(id) ? 'you' : person(id)))
  const more = count - ids.length
  return more > 0 ? `${names.join(', ')} and ${more} more` : names.join(', ')
}

/** Who reacted, on hover (title) and for assistive technology (the button's name, read on focus). */
function labelReaction(btn: HTMLElement): void {
  const { emoji, count, users } = btn.dataset
  const names = nameList(users ? users.split(',') : [], Number(count))
  btn.title = names
  btn.setAttribute('aria-label', `${emoji} ${count}: ${names}`)
}

/** Names learnt after rendering: the reaction buttons follow. */
export function refreshReactionNames(root: ParentNode = document): void {
  for (const btn of root.querySelectorAll<HTMLElement>('.reaction[data-users]')) labelReaction(btn)
}

/** What a message's reaction bar shows, for the list's change detection. */
export const reactionsSig = (m: Message): string => m.reactions.map((r) => `${r.emoji}${r.count}${r.userIds.join('')}`).join('|')

export function reactionBar(m: Message): HTMLElement {
  const me = getMe()?.id ?? ''
  const picker = h(
    'div',
    { class: 'reaction-picker', hidden: true, attrs: { role: 'group', 'aria-label': 'Pick a reaction' } },
    ...PICKER.map((emoji) =>
      h('button', {
        type: 'button',
        textContent: emoji,
        attrs: { 'aria-label': `React with ${emoji}` },
        onclick: () => {
          picker.hidden = true
          react(m, emoji, !m.reactions.some((r) => r.emoji === emoji && r.userIds.includes(me)))
        }
      })
    )
  )
  const full = m.reactions.length >= DISTINCT_MAX
  return h(
    'div',
    { class: 'reactions' },
    ...m.reactions.map((r) => {
      const mine = r.userIds.includes(me)
      const btn = h('button', {
        type: 'button',
        class: `reaction${mine ? ' mine' : ''}`,
        textContent: `${r.emoji} ${r.count}`,
        attrs: { 'aria-pressed': String(mine) },
        onclick: () => react(m, r.emoji, !mine)
      })
      Object.assign(btn.dataset, { emoji: r.emoji, count: String(r.count), users: r.userIds.join(',') })
      labelReaction(btn)
      return btn
    }),
    full
      ? null
      : h('button', {
          type: 'button',
          class: 'reaction-add',
          textContent: '+',
          attrs: { 'aria-label': 'Add a reaction', 'aria-expanded': 'false' },
          onclick: (ev: MouseEvent) => {
            picker.hidden = !picker.hidden
            ;(ev.currentTarget as HTMLElement).setAttribute('aria-expanded', String(!picker.hidden))
          }
        }),
    picker
  )
}
