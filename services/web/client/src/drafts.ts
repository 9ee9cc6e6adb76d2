/**
 * Drafts: what is in the message box is kept per conversation (in this tab's sessionStorage), so
 * switching conversations or reloading does not lose it. Sending clears it.
 */
import { readSession, writeSession } from './session-store.js'
import { activeId, getMe, subscribe } from './store.js'
import { els } from './ui.js'

const KEY = 'drafts'
/** Longest draft kept (the message limit of the contracts). */
const MAX = 8000
const drafts: Record<string, string> = {}
let shownFor: string | undefined

function save(): void {
  const me = getMe()
  if (me) writeSession(KEY, me.id, drafts)
}

export function wireDrafts(): void {
  const me = getMe()
  const stored = me ? readSession<Record<string, unknown>>(KEY, me.id) : undefined
  for (const [id, text] of Object.entries(stored ?? {})) if (typeof text === 'string') drafts[id] = text.slice(0, MAX)
  els.text.addEventListener('input', () => {
    const id = activeId()
    if (!id) return
    const text = els.text.value
    if (text.trim()) drafts[id] = text.slice(0, MAX)
    else delete drafts[id]
    save()
  })
  // Another conversation: its own draft (or nothing) in the box.
  subscribe('active', () => {
    const id = activeId()
    if (id === shownFor) return
    shownFor = id
    els.text.value = id ? (drafts[id] ?? '') : ''
  })
}
