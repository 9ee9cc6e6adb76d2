/**
 * Display names of other people, from auth's user directory (`GET /auth/users?id=…&id=…`), asked
 * in batches and kept in memory for this page load. Until a name is known the caller shows a short
 * id. Names are plain strings: callers put them in text nodes only.
 */
import type { UserProfile, UserProfileList } from '@palisade/contracts'
import { api } from './api.js'

/** USER_DIRECTORY_MAX_IDS of the contracts (a value import would pull the schemas into the bundle). */
const MAX_IDS_PER_REQUEST = 100
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** id → display name; null: asked, and auth knows no such user (so it is not asked again). */
const names = new Map<string, string | null>()
const queued = new Set<string>()
const inflight = new Set<string>()
let timer: ReturnType<typeof setTimeout> | undefined
let onChange: () => void = () => {}

/** Called once after each batch that taught us a name (the app re-renders what shows names). */
export function onNamesChanged(fn: () => void): void {
  onChange = fn
}

export function nameOf(id: string): string | undefined {
  return names.get(id) ?? undefined
}

/** Ids of the people known on this page (members and authors seen so far) with this name, ignoring case. */
export function idsNamed(name: string): string[] {
  const wanted = name.toLowerCase()
  return [...names].filter(([, n]) => n?.toLowerCase() === wanted).map(([id]) => id)
}

export function rememberName(profile: UserProfile): void {
  names.set(profile.id, profile.displayName)
}

/**
 * Asks for the names of these ids that are neither known nor on their way. Callers may call it on
 * every render: ids seen within the same tick go out together, at most 100 per request.
 */
export function resolveNames(ids: Iterable<string>): void {
  for (const id of ids) if (UUID.test(id) && !names.has(id) && !inflight.has(id)) queued.add(id)
  if (queued.size > 0 && timer === undefined) timer = setTimeout(() => void flush(), 0)
}

async function flush(): Promise<void> {
  timer = undefined
  const batch = [...queued]
  queued.clear()
  for (let i = 0; i < batch.length; i += MAX_IDS_PER_REQUEST) {
    const chunk = batch.slice(i, i + MAX_IDS_PER_REQUEST)
    for (const id of chunk) inflight.add(id)
    try {
      const { users } = await api<UserProfileList>('GET', `/auth/users?${chunk.map((id) => `id=${id}`).join('&')}`)
      for (const u of users) names.set(u.id, u.displayName)
      for (const id of chunk) if (!names.has(id)) names.set(id, null)
      onChange()
    } catch {
      // Left unknown (short ids stay on screen); the next render that needs them asks again.
    } finally {
      for (const id of chunk) inflight.delete(id)
    }
  }
}

/** The name of one person now (asked at once if unknown), for a sentence shown when an event arrives. */
export async function nameNow(id: string): Promise<string | undefined> {
  if (!names.has(id) && UUID.test(id)) {
    try {
      const { users } = await api<UserProfileList>('GET', `/auth/users?id=${id}`)
      for (const u of users) names.set(u.id, u.displayName)
      onChange()
    } catch {
      // unknown for now: the caller shows a short id
    }
  }
  return nameOf(id)
}
