import type { FastifyInstance } from 'fastify'
import { ChatMembersGet, type UserEvent } from '@palisade/contracts'
import { natsRequest, problems, type CallContext } from '@palisade/platform'
import type { GatewaySettings } from '../config.js'

interface MembersEntry {
  ids: Set<string>
  until: number
}

/**
 * What a typing indicator needs on this instance: a per user and conversation throttle, and a short
 * cache of conversation members for the fan-out (membership events seen in passing invalidate it).
 */
export class TypingFanout {
  private readonly sentAt = new Map<string, number>()
  private readonly members = new Map<string, MembersEntry>()

  constructor(
    private readonly nats: FastifyInstance['nats'],
    private readonly settings: GatewaySettings
  ) {}

  allowed(userId: string, conversationId: string): boolean {
    const key = `${userId}:${conversationId}`
    const now = Date.now()
    const last = this.sentAt.get(key)
    if (last !== undefined && now - last < this.settings.GATEWAY_TYPING_INTERVAL_MS) return false
    this.sentAt.set(key, now)
    return true
  }

  failed(userId: string, conversationId: string): void {
    this.sentAt.delete(`${userId}:${conversationId}`)
  }

  /**
   * Members of a conversation for a caller who must be one (404 otherwise, from chat). A cached list
   * is trusted only to confirm membership, never to deny it.
   */
  async membersOf(conversationId: string, userId: string, ctx: CallContext): Promise<Set<string>> {
    const now = Date.now()
    const cached = this.members.get(conversationId)
    if (cached && cached.until > now && cached.ids.has(userId)) return cached.ids
    const { memberIds } = await natsRequest(this.nats, ChatMembersGet, { conversationId }, ctx)
    const ids = new Set(memberIds)
    if (!ids.has(userId)) throw problems.notFound('Conversation not found')
    if (this.settings.GATEWAY_MEMBERS_CACHE_MS > 0) {
      if (this.members.size >= 10_000) this.members.clear()
      this.members.set(conversationId, { ids, until: now + this.settings.GATEWAY_MEMBERS_CACHE_MS })
    }
    return ids
  }

  /** Membership changes seen in passing invalidate the cached members. */
  observe(event: UserEvent): void {
    if (event.type === 'member.added' || event.type === 'member.removed' || event.type === 'conversation.deleted') {
      this.members.delete(event.conversationId)
    }
  }

  prune(now = Date.now()): void {
    const horizon = now - this.settings.GATEWAY_TYPING_INTERVAL_MS
    for (const [key, at] of this.sentAt) if (at < horizon) this.sentAt.delete(key)
    for (const [key, entry] of this.members) if (entry.until < now) this.members.delete(key)
  }
}
