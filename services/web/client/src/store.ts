/**
 * The app's shared state: who I am, my conversations with their unread counts, and the open
 * conversation's messages, own sends still pending and agent runs streaming into it. It changes
 * only through the functions below; the views subscribe to what they show. State that one feature
 * alone uses (typing timers, read markers, members, agents) stays in that feature's module.
 */
import type { Conversation, Message, NotifyLevel, User } from '@palisade/contracts'

/** CHAT_LIMITS.unreadCountMax of the contracts: the server stops counting there (a value import would pull the schemas into the bundle). */
export const UNREAD_CAP = 999

/**
 * An own message not yet confirmed by the server (the outbox, outbox.ts): `sending` is on its way,
 * `waiting` waits for the connection, `failed` was refused (with the server's reason) and waits for
 * Retry or Discard.
 */
export interface PendingSend {
  conversationId: string
  text: string
  attachments: string[]
  state: 'sending' | 'waiting' | 'failed'
  error?: string
  /** thread and mentions (SendMessageBody's parentId, mentions, massMention) */
  refs?: MessageRefs
}

export interface MessageRefs {
  parentId?: string
  mentions?: string[]
  massMention?: 'here' | 'all'
}

/** An agent run streaming into the open conversation, shown below its messages. */
export interface RunView {
  el: HTMLElement
  text: string
  agentId: string
  seq: number
}

/**
 * What changed: `conversations` (the list, its unread counts, which one is open), `active` (another
 * conversation was opened or closed), `messages` (the open conversation's messages, pending sends,
 * runs, the older-page cursor).
 */
export type Topic = 'conversations' | 'active' | 'messages'

let me: User | undefined
let conversations = new Map<string, Conversation>()
let unread = new Map<string, number>()
/** my notification level per conversation (absent: 'all', the server's default) */
let notifyLevels = new Map<string, NotifyLevel>()
/** unread mentions of me per conversation, for the tab title (fed by notify.ts) */
const mentions = new Map<string, number>()
let active: string | undefined
const messages = new Map<string, Message>()
const pending = new Map<string, PendingSend>()
const runs = new Map<string, RunView>()
let olderCursor: string | null = null

const listeners: Record<Topic, Set<() => void>> = { conversations: new Set(), active: new Set(), messages: new Set() }
let batching = 0
const dirty = new Set<Topic>()

export function subscribe(topic: Topic, fn: () => void): void {
  listeners[topic].add(fn)
}

function changed(topic: Topic): void {
  if (batching > 0) return void dirty.add(topic)
  for (const fn of listeners[topic]) fn()
}

/** Several updates, one notification per topic at the end (one re-render). */
export function batch(fn: () => void): void {
  batching++
  try {
    fn()
  } finally {
    if (--batching === 0) {
      const topics = [...dirty]
      dirty.clear()
      for (const t of topics) changed(t)
    }
  }
}

// --- me ---------------------------------------------------------------------------------------

export const getMe = (): User | undefined => me
export const isMe = (userId: string): boolean => userId === me?.id
export function setMe(user: User): void {
  me = user
}

// --- conversations and unread counts ------------------------------------------------------------

export const getConversation = (id: string): Conversation | undefined => conversations.get(id)
export const hasConversation = (id: string): boolean => conversations.has(id)
/** Most recently active first; archived ones too (the list shows them apart). */
export const conversationList = (): Conversation[] => [...conversations.values()].sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt))

/** The main list as loaded: archived conversations already known stay (they are loaded apart). */
export function setConversations(all: Map<string, Conversation>, counts: Map<string, number>, levels: Map<string, NotifyLevel>): void {
  for (const c of conversations.values()) if (c.archivedAt && !all.has(c.id)) all.set(c.id, c)
  conversations = all
  unread = counts
  for (const [id, level] of notifyLevels) if (!levels.has(id) && all.has(id)) levels.set(id, level)
  notifyLevels = levels
  changed('conversations')
}

export const notifyLevelOf = (id: string): NotifyLevel => notifyLevels.get(id) ?? 'all'
export function setNotifyLevel(id: string, level: NotifyLevel): void {
  notifyLevels.set(id, level)
  changed('conversations')
}

export const mentionsOf = (id: string): number => mentions.get(id) ?? 0
export function bumpMentions(id: string): void {
  mentions.set(id, mentionsOf(id) + 1)
  changed('conversations')
}

export function putConversation(c: Conversation): void {
  conversations.set(c.id, c)
  changed('conversations')
}

export function removeConversation(id: string): void {
  mentions.delete(id)
  notifyLevels.delete(id)
  if (conversations.delete(id)) changed('conversations')
}

export function touchConversation(id: string, at: string): void {
  const c = conversations.get(id)
  if (!c) return
  c.lastActivityAt = at
  changed('conversations')
}

export const unreadOf = (id: string): number => unread.get(id) ?? 0

/** Returns whether there was anything unread. */
export function clearUnread(id: string): boolean {
  const hadMentions = mentions.delete(id)
  if (!unread.delete(id) && !hadMentions) return false
  changed('conversations')
  return true
}

export function setUnread(id: string, count: number): void {
  if (count > 0) unread.set(id, count)
  else {
    unread.delete(id)
    mentions.delete(id)
  }
  changed('conversations')
}

export function bumpUnread(id: string): void {
  setUnread(id, Math.min(UNREAD_CAP, unreadOf(id) + 1))
}

// --- the open conversation --------------------------------------------------------------------

export const activeId = (): string | undefined => active

/** Opens (or, with undefined, closes) a conversation: its messages and cursor start empty (pending sends stay, in their conversation). */
export function setActive(id: string | undefined): void {
  batch(() => {
    active = id
    if (id !== undefined) {
      unread.delete(id)
      mentions.delete(id)
      messages.clear()
      olderCursor = null
    }
    changed('active')
    changed('conversations')
  })
}

export const getMessage = (id: string): Message | undefined => messages.get(id)

/** The open conversation's messages, oldest first. */
export const messageList = (): Message[] => [...messages.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
export const messageCount = (): number => messages.size

/** Adds or replaces messages of the open conversation (others are ignored); a confirmed own send is no longer pending. */
export function putMessages(items: readonly Message[]): void {
  let any = false
  for (const m of items) {
    if (m.conversationId !== active) continue
    messages.set(m.id, m)
    if (isMe(m.senderId)) pending.delete(m.clientMessageId)
    any = true
  }
  if (any) changed('messages')
}

export function removeMessage(id: string): boolean {
  if (!messages.delete(id)) return false
  changed('messages')
  return true
}

export const getOlderCursor = (): string | null => olderCursor
export function setOlderCursor(cursor: string | null): void {
  olderCursor = cursor
  changed('messages')
}

export const pendingSends = (): ReadonlyMap<string, PendingSend> => pending
export const isPending = (clientMessageId: string): boolean => pending.has(clientMessageId)
export const getPending = (clientMessageId: string): PendingSend | undefined => pending.get(clientMessageId)

export function addPending(clientMessageId: string, send: PendingSend): void {
  pending.set(clientMessageId, send)
  changed('messages')
}

/** A pending send's state changed (sending, waiting, failed with a reason). */
export function setPendingState(clientMessageId: string, state: PendingSend['state'], error?: string): void {
  const p = pending.get(clientMessageId)
  if (!p) return
  const { error: _old, ...rest } = p
  pending.set(clientMessageId, error === undefined ? { ...rest, state } : { ...rest, state, error })
  changed('messages')
}

/** Returns whether it was pending (the view then shows it gone). */
export function dropPending(clientMessageId: string): boolean {
  if (!pending.delete(clientMessageId)) return false
  changed('messages')
  return true
}

export const runViews = (): Iterable<RunView> => runs.values()
export const getRun = (runId: string): RunView | undefined => runs.get(runId)

export function addRun(runId: string, run: RunView): void {
  runs.set(runId, run)
  changed('messages')
}

/** Something message rows show besides the messages changed (what is known of agent runs). */
export function touchMessages(): void {
  changed('messages')
}

export function removeRun(runId: string): void {
  runs.delete(runId)
  changed('messages')
}
