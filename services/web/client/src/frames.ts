/** What each realtime frame from the gateway does to the app: one handler per frame type. */
import type { ServerFrame } from '@palisade/contracts'
import { announce } from './dom.js'
import { onRunEvent } from './agents.js'
import { fileScanned } from './attachment-view.js'
import { mentionCreated, rememberCreated, threadReplied } from './interaction-notify.js'
import { closeConversation } from './conversation.js'
import { reloadMembersIfShown } from './members.js'
import { mentionsRead } from './mention-counts.js'
import { notifyMessage } from './notify.js'
import { putPresences } from './presence.js'
import { refuseSend } from './outbox.js'
import { pageVisible, scheduleMarkRead } from './read-markers.js'
import {
  activeId,
  batch,
  bumpUnread,
  clearUnread,
  dropPending,
  isMe,
  putConversation,
  putMessages,
  removeConversation,
  removeMessage,
  setNotifyLevel,
  setUnread,
  touchConversation
} from './store.js'
import { threadMessage, threadMessageDeleted } from './thread-panel.js'
import { showTyping, stopTyping } from './typing.js'

type FrameType = ServerFrame['type']
type FrameOf<T extends FrameType> = Extract<ServerFrame, { type: T }>
/** Every frame type has an entry, so a new one in the contracts fails the type check until handled here. */
type Handlers = { [T in FrameType]: (frame: FrameOf<T>) => void }

const ignore = (): void => {}

const handlers: Handlers = {
  // The connection's own frames: realtime.ts renews the lease on them.
  hello: ignore,
  renewed: ignore,
  // answers a ping this app never sends
  pong: ignore,
  // A malware scan ended: the file's attachments change state in place (attachment-view.ts).
  'file.scanned': fileScanned,
  ack: (f) =>
    batch(() => {
      dropPending(f.message.clientMessageId)
      putMessages([f.message])
    }),
  error: (f) => {
    // A refused send stays in the outbox with the reason, for Retry or Discard (or waits, if passing).
    if (f.ref && refuseSend(f.ref, f.code, f.detail ?? f.code)) return
    announce(f.detail ?? f.code)
  },
  'message.created': (f) =>
    batch(() => {
      touchConversation(f.conversationId, f.message.createdAt)
      const fromMe = isMe(f.message.senderId) && f.message.author.kind === 'user'
      // Mine, from this tab's outbox (in any conversation): confirmed.
      if (fromMe) dropPending(f.message.clientMessageId)
      if (f.conversationId === activeId()) {
        putMessages([f.message])
        threadMessage(f.message)
        stopTyping(f.message.senderId)
      }
      // Sending marks read on the server (here or in another session of mine): nothing before it is unread.
      if (fromMe) clearUnread(f.conversationId)
      else if (f.conversationId === activeId() && pageVisible()) scheduleMarkRead()
      else bumpUnread(f.conversationId)
      rememberCreated(f.message)
      notifyMessage(f.message)
    }),
  'conversation.read': (f) => {
    // Read in another session of mine (or this one): what the server says is left.
    mentionsRead(f.conversationId)
    if (f.conversationId === activeId() && pageVisible()) return
    setUnread(f.conversationId, f.unreadCount)
  },
  'message.updated': (f) => {
    putMessages([f.message])
    threadMessage(f.message)
  },
  'message.deleted': (f) => {
    removeMessage(f.messageId)
    threadMessageDeleted(f.messageId)
  },
  // Badge and announcement (mention-counts.ts, thread-panel.ts), then notify.ts.
  'mention.created': mentionCreated,
  'thread.replied': threadReplied,
  'conversation.created': (f) => putConversation(f.conversation),
  'conversation.updated': (f) => putConversation(f.conversation),
  'member.added': (f) => {
    if (isMe(f.userId)) putConversation(f.conversation)
    reloadMembersIfShown(f.conversationId)
  },
  'member.removed': (f) => {
    if (isMe(f.userId)) leave(f.conversationId)
    else reloadMembersIfShown(f.conversationId)
  },
  'conversation.deleted': (f) => leave(f.conversationId),
  'presence.changed': (f) => putPresences(f.presences),
  // My level changed in another session of mine (or this one).
  'conversation.notify': (f) => setNotifyLevel(f.conversationId, f.notifyLevel),
  typing: (f) => {
    if (f.conversationId === activeId() && !isMe(f.userId)) showTyping(f.userId)
  },
  'agent.run.delta': onRunEvent,
  'agent.run.completed': onRunEvent,
  'agent.run.failed': onRunEvent,
  'agent.run.cancelled': onRunEvent
}

/** A conversation I am no longer in: gone from the list, closed if open. */
function leave(conversationId: string): void {
  removeConversation(conversationId)
  if (activeId() === conversationId) closeConversation()
}

export function onFrame(frame: ServerFrame): void {
  // A frame type newer than this build (the union is checked at compile time only) is ignored.
  const handle = handlers[frame.type] as ((f: ServerFrame) => void) | undefined
  handle?.(frame)
}
