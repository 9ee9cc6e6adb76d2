/**
 * Browser notifications while the tab is hidden, for what concerns me: messages in direct
 * conversations, and whatever a registered rule names (replies to me, mentions: added by those
 * features through `addNotificationRule` and `notifyMention`). My level per conversation filters:
 * `all` lets everything through, `mentions` only mentions and replies, `none` nothing. Permission is
 * asked only from the settings button (browsers ignore or penalise unprompted requests).
 */
import type { Conversation, Message, NotifyLevel, UserProfileList } from '@palisade/contracts'
import { $ } from './dom.js'
import { api } from './api.js'
import { openConversation } from './conversation.js'
import { nameOf, rememberName } from './names.js'
import { bumpMentions, getConversation, isMe, notifyLevelOf } from './store.js'
import { person } from './ui.js'

export type NotifyReason = 'direct' | 'reply' | 'mention'
/** Says why a new message concerns me, or null. */
export type NotificationRule = (message: Message, conversation: Conversation) => NotifyReason | null

/** A conversation of two is a direct one. */
const direct: NotificationRule = (_m, c) => (c.memberCount === 2 ? 'direct' : null)
const rules: NotificationRule[] = [direct]

export function addNotificationRule(rule: NotificationRule): void {
  rules.push(rule)
}

/** Whether my level lets a message notify for this reason. */
export function allowedBy(level: NotifyLevel, reason: NotifyReason): boolean {
  return level === 'all' || (level === 'mentions' && reason !== 'direct')
}

const supported = (): boolean => typeof Notification !== 'undefined'

/** A notification outlives the page's view of it: the sender's name, not a short id, even before anything showed it. */
async function senderName(message: Message): Promise<string> {
  if (message.author.kind === 'agent') return 'An agent'
  const known = nameOf(message.senderId)
  if (known) return known
  try {
    const { users } = await api<UserProfileList>('GET', `/auth/users?id=${message.senderId}`)
    if (users[0]) {
      rememberName(users[0])
      return users[0].displayName
    }
  } catch {
    // the short id then
  }
  return person(message.senderId)
}

async function show(conversation: Conversation, message: Message, reason: NotifyReason): Promise<void> {
  if (!supported() || Notification.permission !== 'granted' || document.visibilityState !== 'hidden') return
  const from = await senderName(message)
  const what = reason === 'mention' ? 'mentioned you' : reason === 'reply' ? 'replied to you' : 'wrote'
  // Shown by the browser as plain text; one per conversation at a time (tag), the newest replacing it.
  const n = new Notification(`${from} ${what} in ${conversation.title}`, { body: message.text.slice(0, 200), tag: conversation.id })
  n.onclick = () => {
    focus()
    void openConversation(conversation.id)
    n.close()
  }
}

/** A new message from someone else: notifies when a rule says it concerns me and my level allows it. */
export function notifyMessage(message: Message): void {
  if (isMe(message.senderId) && message.author.kind === 'user') return
  const conversation = getConversation(message.conversationId)
  if (!conversation) return
  const level = notifyLevelOf(conversation.id)
  for (const rule of rules) {
    const reason = rule(message, conversation)
    if (reason && allowedBy(level, reason)) return void show(conversation, message, reason)
  }
}

/** I was mentioned (the mentions feature calls this with its event): counted for the tab title, notified unless muted. */
export function notifyMention(message: Message): void {
  bumpMentions(message.conversationId)
  const conversation = getConversation(message.conversationId)
  if (conversation && allowedBy(notifyLevelOf(conversation.id), 'mention')) void show(conversation, message, 'mention')
}

function renderPermission(): void {
  const status = $('#notify-status')
  const button = $('#enable-notifications') as HTMLButtonElement
  if (!supported()) {
    button.hidden = true
    status.textContent = 'This browser has no notifications.'
    return
  }
  button.hidden = Notification.permission !== 'default'
  status.textContent =
    Notification.permission === 'granted'
      ? 'Browser notifications are on while this tab is in the background.'
      : Notification.permission === 'denied'
        ? 'Notifications are blocked in the browser settings for this site.'
        : ''
}

export function wireNotifications(): void {
  renderPermission()
  $('#enable-notifications').addEventListener('click', () => {
    if (!supported()) return
    void Notification.requestPermission().then(renderPermission, renderPermission)
  })
}
