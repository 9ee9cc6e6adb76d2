import type pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { problems, type Outbox } from '@palisade/platform'
import type { ConversationListCache } from '../lib/conversation-list-cache.js'
import type { MessageCache } from '../lib/message-cache.js'
import type { PresenceAnnouncer } from '../lib/presence-announcer.js'

/**
 * What every store function needs, shared by the HTTP routes and the NATS handlers. Every operation
 * names the acting user and checks membership in the same statement (or transaction) that reads or
 * writes, so a conversation the caller does not belong to is indistinguishable from one that does
 * not exist.
 */
export interface ChatStore {
  readonly pg: pg.Pool
  readonly nats: FastifyInstance['nats']
  /** every change that members hear about is written with its events (store/*.ts, lib/events.ts) */
  readonly outbox: Outbox
  /**
   * Newest messages of recently read conversations. Other instances hear of changes through
   * PostgreSQL; this one also drops its own snapshot as soon as a change commits, so a client reads
   * its own writes at once.
   */
  readonly cache: MessageCache | null
  /** Each user's first page of "my conversations", under the same rules as `cache`. */
  readonly lists: ConversationListCache | null
  /** most members a conversation may have */
  readonly maxMembers: number
  /** presence changes, told to the peers who may see them a short window later, together */
  readonly presence: PresenceAnnouncer
}

export interface StoreOptions {
  maxMembers: number
}

export function createChatStore(app: FastifyInstance, opts: StoreOptions): ChatStore {
  return {
    pg: app.pg,
    nats: app.nats,
    outbox: app.outbox,
    cache: app.messageCache,
    lists: app.conversationListCache,
    maxMembers: opts.maxMembers,
    presence: app.presenceAnnouncer
  }
}

export const notMember = () => problems.notFound('Conversation not found')
export const now = () => new Date().toISOString()
