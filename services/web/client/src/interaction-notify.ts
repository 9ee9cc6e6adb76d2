/**
 * Mentions of me and replies in my threads as browser notifications (notify.ts). Their events name
 * a message this socket received just before: the chat service writes message.created first, in
 * the same transaction, and the gateway relays in order. So the newest messages are kept by id.
 */
import type { Message, MentionCreatedEvent, ThreadRepliedEvent } from '@palisade/contracts'
import { onMention } from './mention-counts.js'
import { addNotificationRule, notifyMention, notifyMessage } from './notify.js'
import { pageVisible } from './read-markers.js'
import { activeId } from './store.js'
import { onThreadReplied } from './thread-panel.js'

const RECENT_MAX = 200
const recent = new Map<string, Message>()
/** replies the server said concern me (thread.replied), while notifyMessage runs the rules on them */
const repliesToMe = new Set<string>()

export function rememberCreated(message: Message): void {
  recent.set(message.id, message)
  const oldest = recent.keys().next().value
  if (recent.size > RECENT_MAX && oldest !== undefined) recent.delete(oldest)
}

const reading = (conversationId: string): boolean => conversationId === activeId() && pageVisible()

export function mentionCreated(e: MentionCreatedEvent): void {
  onMention(e)
  const message = recent.get(e.messageId)
  // Counted for the tab title and notified unless I am reading that conversation.
  if (message && !reading(e.conversationId)) notifyMention(message)
}

export function threadReplied(e: ThreadRepliedEvent): void {
  onThreadReplied(e)
  const message = recent.get(e.messageId)
  if (!message) return
  repliesToMe.add(message.id)
  notifyMessage(message)
  repliesToMe.delete(message.id)
}

export function wireInteractionNotifications(): void {
  addNotificationRule((m) => (repliesToMe.has(m.id) ? 'reply' : null))
}
