/**
 * `@` in the message box: a list of the open conversation's members (and `@here`/`@all` when the
 * owner allows them) filtered by what follows the `@`; arrows move, Enter or Tab pick, Escape
 * closes. A pick writes `@Name` in the box and remembers the id; on send `encodeMentions` turns the
 * names still present into `<@id>` tokens and lists the ids, which the server checks are members.
 */
import type { MemberPage, MentionPolicy, Message } from '@palisade/contracts'
import { h } from './dom.js'
import { api } from './api.js'
import { resolveNames } from './names.js'
import { mentionToken } from './mention-text.js'
import { activeId, getMe, isMe, subscribe } from './store.js'
import { person } from './ui.js'

/** MENTION_LIMITS.perMessageMax of the contracts (a value import would pull the schemas into the bundle). */
const PER_MESSAGE_MAX = 20
const SHOWN = 8

interface Candidate {
  id: string | 'here' | 'all'
  name: string
}

export interface MentionRefs {
  mentions?: string[]
  massMention?: 'here' | 'all'
}

interface BoxState {
  /** id → the name written for it */
  picked: Map<string, string>
}

const boxes = new WeakMap<HTMLTextAreaElement, BoxState>()
let loadedFor: string | undefined
let members: string[] = []
let allowMass = false

async function loadCandidates(): Promise<void> {
  const id = activeId()
  if (!id || loadedFor === id) return
  loadedFor = id
  const [page, policy] = await Promise.all([
    api<MemberPage>('GET', `/api/chat/conversations/${id}/members?limit=100`),
    api<MentionPolicy>('GET', `/api/chat/conversations/${id}/mention-policy`)
  ])
  if (activeId() !== id) return
  members = page.items.map((m) => m.userId).filter((u) => !isMe(u))
  allowMass = policy.allowMassMentions
  resolveNames(members)
}

/** The `@query` right before the caret, if any. */
function queryAt(box: HTMLTextAreaElement): { start: number; query: string } | null {
  const before = box.value.slice(0, box.selectionStart)
  const m = /(?:^|\s)@([^\s@]{0,40})$/.exec(before)
  return m ? { start: before.length - m[1]!.length - 1, query: m[1]!.toLowerCase() } : null
}

/** Wires the autocomplete to a message box (the main composer, the thread's). */
export function wireMentionPicker(box: HTMLTextAreaElement): void {
  const state: BoxState = { picked: new Map() }
  boxes.set(box, state)
  const list = h('ul', {
    class: 'mention-picker',
    hidden: true,
    id: `mention-picker-${Math.random().toString(36).slice(2)}`,
    attrs: { role: 'listbox', 'aria-label': 'Mention someone' }
  })
  box.after(list)
  box.setAttribute('aria-autocomplete', 'list')
  box.setAttribute('aria-controls', list.id)
  let options: Candidate[] = []
  let selected = 0
  let start = 0

  const close = (): void => {
    list.hidden = true
    options = []
    box.removeAttribute('aria-activedescendant')
  }
  const pick = (c: Candidate): void => {
    const caret = box.selectionStart
    const insert = c.id === 'here' || c.id === 'all' ? `@${c.id} ` : `@${c.name} `
    if (c.id !== 'here' && c.id !== 'all') state.picked.set(c.id, c.name)
    box.value = box.value.slice(0, start) + insert + box.value.slice(caret)
    box.selectionStart = box.selectionEnd = start + insert.length
    close()
    box.focus()
  }
  const render = (): void => {
    list.replaceChildren(
      ...options.map((c, i) => {
        const li = h('li', {
          id: `${list.id}-${i}`,
          textContent: c.id === 'here' || c.id === 'all' ? `@${c.id} — everyone in the conversation` : c.name,
          attrs: { role: 'option', 'aria-selected': String(i === selected) },
          onmousedown: (ev: MouseEvent) => {
            ev.preventDefault()
            pick(c)
          }
        })
        return li
      })
    )
    box.setAttribute('aria-activedescendant', `${list.id}-${selected}`)
    list.hidden = options.length === 0
  }
  const update = (): void => {
    const q = queryAt(box)
    if (!q) return close()
    void loadCandidates().then(() => {
      const again = queryAt(box)
      if (!again) return close()
      start = again.start
      const all: Candidate[] = members.map((id) => ({ id, name: person(id) }))
      if (allowMass) all.push({ id: 'here', name: 'here' }, { id: 'all', name: 'all' })
      options = all.filter((c) => c.name.toLowerCase().includes(again.query)).slice(0, SHOWN)
      selected = 0
      render()
    }, close)
  }
  box.addEventListener('input', update)
  box.addEventListener('blur', () => setTimeout(close, 100))
  box.addEventListener(
    'keydown',
    (ev) => {
      if (list.hidden || options.length === 0) return
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        selected = (selected + (ev.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length
        render()
      } else if (ev.key === 'Enter' || ev.key === 'Tab') pick(options[selected]!)
      else if (ev.key === 'Escape') close()
      else return
      ev.preventDefault()
      ev.stopImmediatePropagation()
    },
    { capture: true }
  )
}

/** Another conversation opened: its members and policy are loaded on the next `@`. */
export function wireMentionCandidates(): void {
  subscribe('active', () => {
    loadedFor = undefined
    members = []
    allowMass = false
  })
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * An edit box for a message with mentions: its tokens shown as `@Name`, remembered so that saving
 * (`encodeMentions`) writes the same tokens back. An edit keeps the message's mention list, so no
 * picker is offered there: a new `@` in an edit is plain text.
 */
export function prepareEdit(box: HTMLTextAreaElement, m: Message): void {
  const picked = new Map<string, string>()
  box.value = m.text.replace(/<@([0-9a-f-]{36})>/g, (token, id: string) => {
    if (!m.mentions.includes(id)) return token
    const name = isMe(id) ? (getMe()?.displayName ?? person(id)) : person(id)
    picked.set(id, name)
    return `@${name}`
  })
  boxes.set(box, { picked })
}

/** The text to send (picked names still in it → `<@id>`) and what it mentions. */
export function encodeMentions(box: HTMLTextAreaElement, text: string): { text: string; refs: MentionRefs } {
  const state = boxes.get(box)
  const ids: string[] = []
  let out = text
  for (const [id, name] of state?.picked ?? []) {
    const re = new RegExp(`@${escapeRegExp(name)}(?=$|[^\\p{L}\\p{N}_])`, 'gu')
    if (!re.test(out) || ids.length >= PER_MESSAGE_MAX) continue
    out = out.replace(re, mentionToken(id))
    ids.push(id)
  }
  state?.picked.clear()
  const refs: MentionRefs = {}
  if (ids.length) refs.mentions = ids
  const mass = allowMass ? /(?:^|\s)@(here|all)\b/.exec(out) : null
  if (mass) refs.massMention = mass[1] as 'here' | 'all'
  return { text: out, refs }
}
