import { SEARCH_FILTER_INVALID } from '@palisade/contracts'
import { problems } from '@palisade/platform'

/** A search query after its filters were taken out of it (syntax: SEARCH_FILTER_INVALID's comment). */
export interface ParsedSearch {
  /** the words searched, web-search syntax; null when the query is filters only */
  text: string | null
  conversationId: string | null
  senderId: string | null
  hasFile: boolean
  /** created before this instant (exclusive) */
  before: Date | null
  /** created at or after this instant */
  after: Date | null
}

const FILTER = /(^|\s)(in|from|has|before|after):(\S*)/gi
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/

const invalid = (detail: string) => problems.badRequest(detail, SEARCH_FILTER_INVALID)

function utcDay(key: string, value: string): Date {
  const m = DAY.exec(value)
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null
  // Date.UTC rolls 2026-02-31 over into March: only a day that reads back the same is one.
  if (!d || d.toISOString().slice(0, 10) !== value) throw invalid(`${key}: wants a date as YYYY-MM-DD`)
  return d
}

/**
 * Takes `in:`, `from:`, `has:`, `before:` and `after:` out of a query (keys case-insensitive, each
 * at most once) and checks their values; any other `word:` stays text. Ids are only syntax-checked
 * here: the query itself keeps to the caller's conversations, so a foreign id finds nothing.
 */
export function parseSearch(q: string, me: string): ParsedSearch {
  const out: ParsedSearch = { text: null, conversationId: null, senderId: null, hasFile: false, before: null, after: null }
  const seen = new Set<string>()
  const text = q.replace(FILTER, (_all, lead: string, rawKey: string, value: string) => {
    const key = rawKey.toLowerCase()
    if (seen.has(key)) throw invalid(`${key}: may appear once`)
    seen.add(key)
    if (key === 'in') {
      if (!UUID.test(value)) throw invalid('in: wants a conversation id')
      out.conversationId = value.toLowerCase()
    } else if (key === 'from') {
      if (value.toLowerCase() === 'me') out.senderId = me
      else if (UUID.test(value)) out.senderId = value.toLowerCase()
      else throw invalid('from: wants a user id or "me"')
    } else if (key === 'has') {
      if (value.toLowerCase() !== 'file') throw invalid('has: supports only "file"')
      out.hasFile = true
    } else if (key === 'before') out.before = utcDay(key, value)
    else out.after = utcDay(key, value)
    return lead
  })
  const words = text.replace(/\s+/g, ' ').trim()
  out.text = words === '' ? null : words
  if (out.text === null && seen.size === 0) throw invalid('Nothing to search for')
  return out
}
