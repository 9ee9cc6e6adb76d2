/**
 * The one place the app uses web storage: sessionStorage (this tab only, gone when it closes), for
 * what a person typed and has not sent yet — drafts and the outbox. Never credentials: those stay in
 * httpOnly cookies. Entries are tied to the signed-in user id, so another account signing in in
 * the same tab never sees them, and signing out clears them.
 */
const PREFIX = 'palisade:'

function storage(): Storage | undefined {
  try {
    return window.sessionStorage
  } catch {
    return undefined // storage disabled by the browser: drafts and the outbox live in memory only
  }
}

export function readSession<T>(key: string, userId: string): T | undefined {
  try {
    const raw = storage()?.getItem(PREFIX + key)
    if (!raw) return undefined
    const v = JSON.parse(raw) as { userId?: unknown; value?: T }
    return v.userId === userId ? v.value : undefined
  } catch {
    return undefined
  }
}

/** Writes a value, or removes the key when there is nothing to keep (so an idle tab stores nothing). */
export function writeSession(key: string, userId: string, value: unknown): void {
  const s = storage()
  if (!s) return
  const empty =
    value === undefined ||
    value === '' ||
    (Array.isArray(value) && value.length === 0) ||
    (typeof value === 'object' && value !== null && Object.keys(value).length === 0)
  try {
    if (empty) s.removeItem(PREFIX + key)
    else s.setItem(PREFIX + key, JSON.stringify({ userId, value }))
  } catch {
    // quota exceeded: the value stays in memory only
  }
}

export function clearSession(): void {
  const s = storage()
  if (!s) return
  for (const key of Object.keys(s)) if (key.startsWith(PREFIX)) s.removeItem(key)
}
