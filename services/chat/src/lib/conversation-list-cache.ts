import { LRUCache } from 'lru-cache'

/** What one fill read: a user's first page as JSON, and every conversation they are in. */
export interface ListSnapshot {
  json: string
  conversationIds: readonly string[]
}

export type ListLoader = (userId: string, limit: number) => Promise<ListSnapshot>

export interface ConversationListCacheOptions {
  maxBytes: number
  /** a bound on staleness should a notification ever go missing unnoticed */
  ttlMs: number
  load: ListLoader
}

interface Entry {
  /** first pages by limit, encoded (clients use one or two page sizes) */
  pages: Map<number, Buffer>
  conversationIds: readonly string[]
}

const PAGES_KEPT = 2

/**
 * Each user's first page of "my conversations", as encoded JSON, so the route a client loads on
 * every start and reconnect costs no database round trip (about 400 µs of chat's CPU on the
 * development VM, docs/performance.md).
 *
 * The rules are the message cache's (message-cache.ts). A page is dropped on every change that can
 * alter it, announced by PostgreSQL at commit on `chat_changes`: a message or membership change or
 * rename of any conversation the user is in (by conversation id: every cached member's page goes),
 * and any change of the user's own member rows (`u:<user id>`: read markers, joining, leaving). The
 * instance that writes also drops at once, so a client reads its own writes. While the channel is
 * down nothing is cached. A fill that was running when anything changed is thrown away, since
 * before it ends it cannot know which conversations it covers.
 */
export class ConversationListCache {
  private readonly entries: LRUCache<string, Entry>
  /** conversation id → users whose cached page depends on it */
  private readonly byConversation = new Map<string, Set<string>>()
  private readonly running = new Set<{ invalidated: boolean }>()
  private live = false
  readonly stats = { hits: 0, misses: 0, discarded: 0 }

  constructor(private readonly opts: ConversationListCacheOptions) {
    this.entries = new LRUCache<string, Entry>({
      maxSize: opts.maxBytes,
      ttl: opts.ttlMs,
      sizeCalculation: (e) => 256 + e.conversationIds.length * 80 + PAGES_KEPT * [...e.pages.values()].reduce((n, b) => Math.max(n, b.length), 1024),
      dispose: (entry, userId) => {
        for (const id of entry.conversationIds) {
          const users = this.byConversation.get(id)
          users?.delete(userId)
          if (users?.size === 0) this.byConversation.delete(id)
        }
      }
    })
  }

  setLive(live: boolean): void {
    this.live = live
    this.entries.clear()
    this.abandonFills()
  }

  invalidateUser(userId: string): void {
    this.entries.delete(userId)
    this.abandonFills()
  }

  invalidateConversation(conversationId: string): void {
    for (const userId of [...(this.byConversation.get(conversationId) ?? [])]) this.entries.delete(userId)
    this.abandonFills()
  }

  /** The first page's bytes, or undefined when the cache cannot answer (the caller asks the database). */
  async firstPage(userId: string, limit: number): Promise<Buffer | undefined> {
    if (!this.live) return undefined
    const cached = this.entries.get(userId)?.pages.get(limit)
    if (cached) {
      this.stats.hits++
      return cached
    }
    this.stats.misses++
    const fill = { invalidated: false }
    this.running.add(fill)
    try {
      const snapshot = await this.opts.load(userId, limit)
      const bytes = Buffer.from(snapshot.json)
      if (fill.invalidated || !this.live) {
        this.stats.discarded++
        return bytes // what the database said just now: right to answer, not to keep
      }
      const entry = this.entries.get(userId)
      const pages = new Map(entry?.pages ?? [])
      if (pages.size >= PAGES_KEPT) pages.clear()
      pages.set(limit, bytes)
      this.entries.set(userId, { pages, conversationIds: snapshot.conversationIds })
      for (const id of snapshot.conversationIds) {
        const users = this.byConversation.get(id) ?? new Set<string>()
        users.add(userId)
        this.byConversation.set(id, users)
      }
      return bytes
    } finally {
      this.running.delete(fill)
    }
  }

  private abandonFills(): void {
    for (const fill of this.running) fill.invalidated = true
  }
}
