/**
 * The search box's filters as people type them, turned into what chat parses (the syntax of
 * SEARCH_FILTER_INVALID in the chat contracts): `in:` takes a conversation's title and `from:` a
 * person's name (quoted when they have spaces), both sent as ids; `from:me`, `has:file`,
 * `before:`/`after:` YYYY-MM-DD and ids pass unchanged. Chat validates everything again.
 */
export interface SearchLookups {
  /** ids of my conversations with this title (case-insensitive) */
  conversationsTitled(title: string): string[]
  /** ids of people I know by this display name (case-insensitive) */
  peopleNamed(name: string): string[]
}

const FILTER = /(^|\s)(in|from):("([^"]*)"|\S+)/gi
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The query for chat, or a sentence saying which name or title is unknown or ambiguous. */
export function toServerQuery(input: string, lookups: SearchLookups): { q: string } | { error: string } {
  let error: string | undefined
  const q = input.replace(FILTER, (all, lead: string, rawKey: string, raw: string, quoted: string | undefined) => {
    const key = rawKey.toLowerCase()
    const value = quoted ?? raw
    if (UUID.test(value) || (key === 'from' && value.toLowerCase() === 'me')) return `${lead}${key}:${value}`
    const ids = key === 'in' ? lookups.conversationsTitled(value) : lookups.peopleNamed(value)
    if (ids.length === 1) return `${lead}${key}:${ids[0]}`
    const what = key === 'in' ? 'conversation titled' : 'person named'
    error ??= ids.length === 0 ? `No ${what} “${value}”.` : `More than one ${what} “${value}”: narrow it down.`
    return all
  })
  return error === undefined ? { q: q.trim() } : { error }
}
