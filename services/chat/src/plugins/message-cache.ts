import fp from 'fastify-plugin'
import { ChannelListener } from '@palisade/platform'
import { ConversationListCache } from '../lib/conversation-list-cache.js'
import { MessageCache, type SnapshotLoader } from '../lib/message-cache.js'
import { loadConversationList } from '../store/conversations.js'
import { memberIdsSql, splitIds } from '../lib/member-ids.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** null when the cache is turned off (CHAT_MESSAGE_CACHE_MB=0) */
    messageCache: MessageCache | null
    messageCacheListener: ChannelListener | null
    /** null when the cache is turned off (CHAT_MESSAGE_CACHE_MB=0) */
    conversationListCache: ConversationListCache | null
  }
}

export interface MessageCachePluginOptions {
  databaseUrl: string
  maxBytes: number
}

/**
 * Announced by the triggers of migrations 0003 and 0007: the id of the conversation that changed,
 * or `u:<user id>` when one of that user's member rows did.
 */
export const CHANGES_CHANNEL = 'chat_changes'
/**
 * What a notification must look like. Any role on the database may NOTIFY any channel (PostgreSQL
 * has no privileges on them), so a payload is only ever a hint to drop one cached conversation.
 */
const CONVERSATION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** Bounds staleness should a notification go missing without the connection noticing. */
const SNAPSHOT_TTL_MS = 30_000

/**
 * The in-memory message cache and the PostgreSQL LISTEN connection that keeps it coherent across
 * chat instances (see MessageCache for why a page served from it is always a consistent read).
 */
export const messageCachePlugin = fp<MessageCachePluginOptions>(
  async (app, opts) => {
    if (opts.maxBytes <= 0) {
      app.decorate('messageCache', null)
      app.decorate('messageCacheListener', null)
      app.decorate('conversationListCache', null)
      return
    }
    // Members and newest messages from one statement, hence one snapshot.
    const load: SnapshotLoader = async (conversationId, depth) => {
      // Ids and seqs as one string each and the payloads as one JSON array: parsing text[]
      // literals was the larger part of a snapshot's cost in a conversation of thousands.
      const r = await app.pg.query<{ member_ids: string | null; seqs: string | null; payloads: string[] }>({
        name: 'chat_conversation_snapshot',
        text: `SELECT ${memberIdsSql('$1')} AS member_ids,
                      string_agg(x.seq::text, ' ' ORDER BY x.seq DESC) AS seqs,
                      coalesce(json_agg(x.payload ORDER BY x.seq DESC), '[]') AS payloads
               FROM (SELECT seq, payload FROM chat.messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2) x`,
        values: [conversationId, depth]
      })
      const row = r.rows[0]
      const members = splitIds(row?.member_ids ?? null)
      if (!row || !members) return null
      const seqs = splitIds(row.seqs) ?? []
      return {
        members: new Set(members),
        messages: seqs.map((seq, i) => ({ seq: Number(seq), json: row.payloads[i]! })),
        complete: seqs.length < depth
      }
    }
    const cache = new MessageCache({ maxBytes: opts.maxBytes, ttlMs: SNAPSHOT_TTL_MS, load })
    // Conversation lists are small: a quarter of the budget again holds tens of thousands of users.
    const lists = new ConversationListCache({
      maxBytes: Math.max(1, Math.floor(opts.maxBytes / 4)),
      ttlMs: SNAPSHOT_TTL_MS,
      load: loadConversationList(app.pg)
    })
    const listener = new ChannelListener({
      url: opts.databaseUrl,
      name: 'chat-changes',
      channel: CHANGES_CHANNEL,
      onNotification: (payload) => {
        if (CONVERSATION_ID.test(payload)) {
          cache.invalidate(payload)
          lists.invalidateConversation(payload)
        } else if (payload.startsWith('u:') && CONVERSATION_ID.test(payload.slice(2))) {
          lists.invalidateUser(payload.slice(2))
        }
      },
      onLiveChange: (live) => {
        cache.setLive(live)
        lists.setLive(live)
        app.log[live ? 'info' : 'warn'](
          { channel: CHANGES_CHANNEL },
          live ? 'message cache on: listening for changes' : 'message cache off: change notifications lost'
        )
      },
      onError: (err) => app.log.warn({ err }, 'change notification connection failed')
    })
    await listener.start()
    app.decorate('messageCache', cache)
    app.decorate('messageCacheListener', listener)
    app.decorate('conversationListCache', lists)
    app.addHook('onClose', async () => listener.close())
  },
  { name: 'palisade-chat-message-cache', dependencies: ['palisade-db'] }
)
