import t from 'tap'
import { randomUUID } from 'node:crypto'
import { CHAT_LIMITS, type Message, type User } from '@palisade/contracts'
import * as store from '../client/src/store.js'

/** The client's state store: what each update changes and whom it tells (it touches no DOM). */

const me = { id: randomUUID(), email: 'me@test.palisade.example', displayName: 'Me' } as User
const other = randomUUID()
const conv = (id: string, lastActivityAt: string) => ({
  id,
  title: id.slice(0, 4),
  topic: '',
  ownerId: me.id,
  memberCount: 2,
  createdAt: lastActivityAt,
  updatedAt: lastActivityAt,
  lastActivityAt,
  archivedAt: null as string | null
})
const message = (conversationId: string, senderId: string, createdAt: string, clientMessageId = randomUUID()): Message => ({
  id: randomUUID(),
  conversationId,
  senderId,
  author: { kind: 'user' },
  text: 'hi',
  clientMessageId,
  attachments: [],
  createdAt,
  editedAt: null,
  parentId: null,
  mentions: [],
  massMention: null,
  thread: null,
  reactions: []
})

const seen: string[] = []
for (const topic of ['conversations', 'active', 'messages'] as const) store.subscribe(topic, () => seen.push(topic))
store.setMe(me)

t.test('the unread cap is the contracts’ one', async (t) => {
  t.equal(store.UNREAD_CAP, CHAT_LIMITS.unreadCountMax)
})

t.test('conversations: newest activity first, unread counts capped, one notification per batch', async (t) => {
  const a = randomUUID()
  const b = randomUUID()
  seen.length = 0
  store.setConversations(
    new Map([
      [a, conv(a, '2026-01-01T00:00:00.000Z')],
      [b, conv(b, '2026-01-02T00:00:00.000Z')]
    ]),
    new Map([[a, 998]]),
    new Map()
  )
  t.same(
    store.conversationList().map((c) => c.id),
    [b, a]
  )
  store.batch(() => {
    store.touchConversation(a, '2026-01-03T00:00:00.000Z')
    store.bumpUnread(a)
    store.bumpUnread(a)
  })
  t.same(seen, ['conversations', 'conversations'], 'once for the load, once for the batch')
  t.same(
    store.conversationList().map((c) => c.id),
    [a, b]
  )
  t.equal(store.unreadOf(a), store.UNREAD_CAP)
  seen.length = 0
  t.notOk(store.clearUnread(b), 'nothing unread')
  t.same(seen, [], 'and nobody told')
  t.ok(store.clearUnread(a))
  t.equal(store.unreadOf(a), 0)
})

t.test('notification levels, mentions and archived conversations', async (t) => {
  const a = randomUUID()
  const z = randomUUID()
  store.putConversation({ ...conv(z, '2025-01-01T00:00:00.000Z'), archivedAt: '2026-01-01T00:00:00.000Z' })
  store.setConversations(new Map([[a, conv(a, '2026-01-01T00:00:00.000Z')]]), new Map([[a, 2]]), new Map([[a, 'mentions']]))
  t.ok(store.getConversation(z), 'an archived conversation (loaded apart) survives reloading the main list')
  t.equal(store.notifyLevelOf(a), 'mentions')
  t.equal(store.notifyLevelOf(z), 'all', "the server's default")
  store.setNotifyLevel(a, 'none')
  t.equal(store.notifyLevelOf(a), 'none')
  store.bumpMentions(a)
  store.bumpMentions(a)
  t.equal(store.mentionsOf(a), 2)
  t.ok(store.clearUnread(a))
  t.equal(store.mentionsOf(a), 0, 'reading clears the mentions too')
  store.bumpMentions(a)
  store.setActive(a)
  t.equal(store.mentionsOf(a), 0, 'and so does opening it')
  store.setActive(undefined)
  store.removeConversation(a)
  t.equal(store.notifyLevelOf(a), 'all', 'forgotten with the conversation')
})

t.test('the open conversation: messages of others ignored, own sends confirmed, reset on open', async (t) => {
  const a = randomUUID()
  const b = randomUUID()
  store.setConversations(new Map([[a, conv(a, '2026-01-01T00:00:00.000Z')]]), new Map([[a, 3]]), new Map())
  seen.length = 0
  store.setActive(a)
  t.same(seen.sort(), ['active', 'conversations'])
  t.equal(store.activeId(), a)
  t.equal(store.unreadOf(a), 0, 'opening reads')

  const cid = randomUUID()
  store.addPending(cid, { conversationId: a, text: 'hi', attachments: [], state: 'sending' })
  t.ok(store.isPending(cid))
  seen.length = 0
  store.putMessages([message(b, other, '2026-01-01T00:00:01.000Z')])
  t.same(seen, [], 'another conversation’s message changes nothing')
  const later = message(a, other, '2026-01-01T00:00:02.000Z')
  const mine = message(a, me.id, '2026-01-01T00:00:01.000Z', cid)
  store.putMessages([later, mine])
  t.same(seen, ['messages'])
  t.same(
    store.messageList().map((m) => m.id),
    [mine.id, later.id],
    'oldest first'
  )
  t.notOk(store.isPending(cid), 'the stored copy of my send replaces the pending one')
  t.notOk(store.dropPending(cid), 'already gone')
  t.ok(store.removeMessage(later.id))
  t.notOk(store.removeMessage(later.id))

  store.setOlderCursor('c1')
  const queued = randomUUID()
  store.addPending(queued, { conversationId: a, text: 'x', attachments: [], state: 'waiting' })
  store.setActive(a)
  t.equal(store.messageCount(), 0, 'reopening starts empty')
  t.ok(store.isPending(queued), 'but an unsent message stays in the outbox')
  store.setPendingState(queued, 'failed', 'refused')
  t.match(store.getPending(queued), { state: 'failed', error: 'refused', text: 'x' })
  store.setPendingState(queued, 'sending')
  t.equal(store.getPending(queued)?.error, undefined, 'a new attempt forgets the old reason')
  t.ok(store.dropPending(queued))
  t.equal(store.getOlderCursor(), null)
  store.setActive(undefined)
  t.equal(store.activeId(), undefined)
})
