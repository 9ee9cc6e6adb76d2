/**
 * Mentions inside a message's text. The text carries `<@userId>` tokens (ids, so a renamed member
 * shows their current name) for the ids in the message's `mentions`; they are shown as names in
 * text nodes, as are `@here` and `@all` when the message is a mass mention. Anything else,
 * `<@…>` with an id the message does not list included, stays plain text.
 */
import type { Message } from '@palisade/contracts'
import { h } from './dom.js'
import { resolveNames } from './names.js'
import { getMe, isMe } from './store.js'
import { person } from './ui.js'

const TOKEN = /<@([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})>|@(here|all)\b/g

export const mentionToken = (userId: string): string => `<@${userId}>`
const label = (id: string): string => `@${isMe(id) ? (getMe()?.displayName ?? 'you') : person(id)}`

/** Does this message mention me, by id or as one of everyone? */
export const mentionsMe = (m: Message): boolean => !isMe(m.senderId) && (m.massMention !== null || m.mentions.some(isMe))

/** The text as nodes: plain text, with mention chips where the message lists the mention. */
export function mentionText(m: Message, text = m.text): Array<Node | string> {
  if (m.mentions.length === 0 && m.massMention === null) return [text]
  resolveNames(m.mentions.filter((id) => !isMe(id)))
  const out: Array<Node | string> = []
  let at = 0
  for (const match of text.matchAll(TOKEN)) {
    const [whole, id, mass] = match
    const listed = id ? m.mentions.includes(id) : m.massMention !== null
    if (!listed) continue
    out.push(text.slice(at, match.index))
    const chip = h('span', { class: `mention${id && isMe(id) ? ' me' : ''}`, textContent: id ? label(id) : `@${mass}` })
    if (id) chip.dataset.user = id
    out.push(chip)
    at = match.index + whole.length
  }
  out.push(text.slice(at))
  return out
}

/**
 * Chips inside text already rendered (Markdown's elements): each text node's listed tokens become
 * chips; tokens are plain text to the Markdown renderer (no HTML), so one never spans two nodes.
 */
export function chipMentions(root: HTMLElement, m: Message): void {
  if (m.mentions.length === 0 && m.massMention === null) return
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT)
  const nodes: Text[] = []
  for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n as Text)
  for (const node of nodes) {
    const parts = mentionText(m, node.data)
    if (parts.length > 1) node.replaceWith(...parts)
  }
}

/** Names learnt after rendering: the chips follow. */
export function refreshMentionNames(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLElement>('.mention[data-user]')) el.textContent = label(el.dataset.user!)
}

/** A message's text for places that show it flat (previews, notifications): tokens as names. */
export const flatText = (m: Message): string =>
  mentionText(m)
    .map((n) => (typeof n === 'string' ? n : (n.textContent ?? '')))
    .join('')
