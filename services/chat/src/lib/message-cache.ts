import { LRUCache } from 'lru-cache'
import { CHAT_LIMITS } from '@palisade/contracts'
import { messageCursor } from './cursor.js'

/**
 * What one statement read of a conversation: its members and its newest messages. Both come from
 * the same snapshot, so a page served from it never shows a message to someone who was not a
 * member at that moment.
 */
export interface ConversationSnapshot {
  members: ReadonlySet<string>
  /** newest first: seq and the message's API JSON */
  messages: ReadonlyArray<{ seq: number; json: string }>
  /** true when `messages` holds every message of the conversation */
  complete: boolean
}

/** Reads a snapshot in one statement; null when the conversation does not exist. */
export type SnapshotLoader = (conversationId: string, depth: number) => Promise<ConversationSnapshot | null>

export interface MessageCacheOptions {
  maxBytes: number
  /** a bound on staleness should a notification ever go missing unnoticed */
  ttlMs: number
  load: SnapshotLoader
}

export interface MessageCacheStats {
  hits: number
  misses: number
  fills: number
  /** fills thrown away because the conversation changed while they ran */
  discarded: number
}

interface Entry {
  snapshot: ConversationSnapshot
  /** first pages by limit, encoded (clients use one or two page sizes) */
  firstPages: Map<number, Buffer>
}

const FIRST_PAGES_KEPT = 2

/** Messages kept per conversation: one more than the largest page, to know whether there are more. */
export const CACHE_DEPTH = CHAT_LIMITS.pageMax + 1

/**
 * The newest messages of recently read conversations, in memory, so that the hottest read (the
 * first page of a conversation) costs no database round trip.
 *
 * Correctness rests on three rules. (1) An entry is one consistent snapshot of members and messages
 * (see ConversationSnapshot). (2) Every change to a conversation's messages or members is announced
 * by PostgreSQL (`chat_changes`, sent by triggers at commit) and drops its entry on every instance;
 * while that notification channel is down nothing is cached at all (`setLive(false)`). (3) A fill
 * that was running when its conversation changed is thrown away, since its snapshot may predate the
 * change. So a read answered here equals a read of the database at some moment no older than the
 * notification delay (or `ttlMs`, whichever comes first).
 *
 * Someone not in the snapshot's members is never refused here: the database decides (they may have
 * just been added), and an attacker probing foreign ids gains nothing over the uncached path.
 */
export class MessageCache {
  private readonly entries: LRUCache<string, Entry>
  private readonly pending = new Map<string, { invalidated: boolean; done: Promise<ConversationSnapshot | null> }>()
  private live = false
  readonly stats: MessageCacheStats = { hits: 0, misses: 0, fills: 0, discarded: 0 }

  constructor(private readonly opts: MessageCacheOptions) {
    this.entries = new LRUCache({
      maxSize: opts.maxBytes,
      ttl: opts.ttlMs,
      // The text, plus at most FIRST_PAGES_KEPT first pages of it kept as bytes.
      sizeCalculation: ({ snapshot: s }) => 256 + s.members.size * 64 + s.messages.reduce((n, m) => n + (FIRST_PAGES_KEPT + 1) * m.json.length + 32, 0)
    })
  }

  /** Whether changes are being heard; when they are not (or were not for a while), nothing cached is trusted. */
  setLive(live: boolean): void {
    this.live = live
    this.entries.clear()
    for (const p of this.pending.values()) p.invalidated = true
  }

  invalidate(conversationId: string): void {
    this.entries.delete(conversationId)
    const p = this.pending.get(conversationId)
    if (p) p.invalidated = true
  }

  /**
   * The page as the JSON bytes of a MessagePage, or undefined when the cache cannot answer it (the
   * caller then asks the database, which also decides every "not a member").
   */
  async page(userId: string, conversationId: string, beforeSeq: number | undefined, limit: number): Promise<Buffer | undefined> {
    if (!this.live) return undefined
    let entry = this.entries.get(conversationId)
    if (!entry) {
      // Only the first page fills: older pages are read rarely and straight from the database.
      if (beforeSeq !== undefined) return undefined
      this.stats.misses++
      const snapshot = await this.fill(conversationId)
      if (!snapshot) return undefined
      entry = this.entries.get(conversationId) ?? { snapshot, firstPages: new Map() }
    } else {
      this.stats.hits++
    }
    if (!entry.snapshot.members.has(userId)) return undefined
    if (beforeSeq !== undefined) return pageBytes(entry.snapshot, beforeSeq, limit)
    // The first page is what every open conversation reads: kept as ready bytes, it costs neither a
    // string build nor a UTF-8 encoding per request.
    let bytes = entry.firstPages.get(limit)
    if (!bytes) {
      bytes = pageBytes(entry.snapshot, undefined, limit)
      if (bytes && entry.firstPages.size < FIRST_PAGES_KEPT) entry.firstPages.set(limit, bytes)
    }
    return bytes
  }

  private fill(conversationId: string): Promise<ConversationSnapshot | null> {
    const running = this.pending.get(conversationId)
    if (running && !running.invalidated) return running.done
    const state = { invalidated: false, done: Promise.resolve<ConversationSnapshot | null>(null) }
    state.done = (async () => {
      try {
        this.stats.fills++
        const snapshot = await this.opts.load(conversationId, CACHE_DEPTH)
        if (state.invalidated) {
          // It may predate the change: neither kept nor used (the waiting requests ask the database).
          this.stats.discarded++
          return null
        }
        if (snapshot) this.entries.set(conversationId, { snapshot, firstPages: new Map() })
        return snapshot
      } finally {
        if (this.pending.get(conversationId) === state) this.pending.delete(conversationId)
      }
    })()
    this.pending.set(conversationId, state)
    return state.done
  }
}

/** The MessagePage JSON for `limit` messages older than `beforeSeq`, or undefined when the snapshot does not reach that far. */
function pageBytes(snapshot: ConversationSnapshot, beforeSeq: number | undefined, limit: number): Buffer | undefined {
  const all = snapshot.messages
  let start = 0
  if (beforeSeq !== undefined) {
    while (start < all.length && all[start]!.seq >= beforeSeq) start++
  }
  const available = all.length - start
  const more = available > limit
  if (!more && !snapshot.complete) return undefined
  const end = start + Math.min(limit, available)
  let items = ''
  for (let i = start; i < end; i++) items += (i === start ? '' : ',') + all[i]!.json
  const next = more ? JSON.stringify(messageCursor.encode(all[end - 1]!.seq)) : 'null'
  return Buffer.from(`{"items":[${items}],"nextCursor":${next}}`)
}
