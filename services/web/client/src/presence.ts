/**
 * Presence of the people I share conversations with (the server tells me of nobody else): loaded
 * for the open conversation's members, kept current by `presence.changed`; my own activity
 * reported over the socket (at most once a minute); my "hide my presence" setting.
 */
import type { Presence, PresenceList, PresenceSettings } from '@palisade/contracts'
import { $ } from './dom.js'
import { api } from './api.js'
import { realtime, reconnects } from './connection.js'
import { activeId, subscribe } from './store.js'
import { showError, time } from './ui.js'

/** PRESENCE_LIMITS.activityIntervalMs of the contracts (a value import would pull the schemas into the bundle). */
const ACTIVITY_INTERVAL_MS = 60_000

const known = new Map<string, Presence>()
/** when (performance.now()) an event last told of each user: such news beats a list asked for earlier */
const toldAt = new Map<string, number>()
const listeners = new Set<() => void>()
let activitySentAt = 0

export function onPresenceChanged(fn: () => void): void {
  listeners.add(fn)
}

function changed(): void {
  for (const fn of listeners) fn()
}

/** Changes chat announced (several people's at once when they came together): shown once. */
export function putPresences(list: readonly Presence[]): void {
  const now = performance.now()
  for (const p of list) {
    known.set(p.userId, p)
    toldAt.set(p.userId, now)
  }
  changed()
}

/**
 * "online", "away", "last seen …" or "offline", as chat last said: it announces changes only (away
 * too), so `lastActiveAt` here may be older than the user's latest activity and is not used.
 */
export function presenceLabel(userId: string): string {
  const p = known.get(userId)
  if (!p || p.status === 'offline') return p?.lastSeenAt ? `last seen ${new Date(p.lastSeenAt).toLocaleDateString()} ${time(p.lastSeenAt)}` : 'offline'
  return p.status
}

/** The presence of a conversation's members (on opening it, and with its members panel: members join later). */
export async function loadPresence(conversationId: string): Promise<void> {
  const asked = performance.now()
  const { items } = await api<PresenceList>('GET', `/api/chat/conversations/${conversationId}/presence`)
  // The list may have been read before a change whose event arrived first (someone closed their tab
  // meanwhile): applying it would bring back the old state for good, as no further event follows.
  for (const p of items) if ((toldAt.get(p.userId) ?? -1) < asked) known.set(p.userId, p)
  changed()
}

/** Something the user did: tells the gateway at most once per interval (it forwards as rarely). */
function active(): void {
  if (document.visibilityState !== 'visible' || Date.now() - activitySentAt < ACTIVITY_INTERVAL_MS) return
  if (realtime.send({ type: 'activity' })) activitySentAt = Date.now()
}

export function wirePresence(): void {
  const reload = (): void => {
    const id = activeId()
    if (id) void loadPresence(id).catch(showError)
  }
  subscribe('active', reload)
  // Presence changes are not caught up like messages: a gap in the socket may have missed some.
  reconnects.addEventListener('reconnected', reload)
  for (const type of ['keydown', 'pointerdown', 'focus', 'visibilitychange'] as const) addEventListener(type, active, { passive: true })
  const hidden = $('#presence-hidden') as HTMLInputElement
  $('#open-settings').addEventListener('click', () => {
    void api<PresenceSettings>('GET', '/api/chat/presence/settings').then((s) => (hidden.checked = s.hidden), showError)
  })
  hidden.addEventListener('change', () => {
    void api('PUT', '/api/chat/presence/settings', { hidden: hidden.checked }).catch((err: unknown) => {
      hidden.checked = !hidden.checked
      showError(err)
    })
  })
}
