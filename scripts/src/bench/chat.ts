/**
 * Chat's hot read path: GET /api/chat/conversations/:id/messages (a page of 50 messages of a
 * conversation with 500, membership checked in the same query; ≈ 17 KB of JSON) called directly
 * with valid identity headers, as the edge would stamp them, beside the same-run hello-world
 * baseline; for context a 10-message page, the conversation list (20 conversations, 500 unread in
 * one; and the first page of a user in 500) and chat's /healthz (the
 * platform's floor: security headers, CORS, request ids, no identity or database). The real auth
 * and chat run as their own processes (chat's CPU time read from /proc) on a throwaway database
 * and a private nats-server.
 */
import pg from 'pg'
import { startTestStack } from '@palisade/testkit'
import { discardStream, type Bench, benchCleanups } from './framework.js'
import { procCpuUs, startStackService } from './service-process.js'

export const CHAT_ROWS = {
  list: 'chat message list (50 of 500), direct',
  list10: 'chat message list (10 of 500), direct',
  conversations: 'chat my conversations (20), direct',
  conversations500: 'chat my conversations (first 20 of 500), direct',
  floor: 'chat /healthz (platform floor: no identity, no DB)'
} as const

export const chatBench: Bench = {
  name: 'chat',
  description: 'chat HTTP message list and conversation list, called directly with identity headers',
  async setup() {
    const cleanups = benchCleanups()
    const host = cleanups.host
    const teardown = cleanups.run
    try {
      const stack = await startTestStack(host, { authLogStream: discardStream() })
      const chat = await startStackService(host, stack, 'chat', { CHAT_RATE_LIMIT_PER_MINUTE: 1_000_000 })
      const [alice, bob, carol] = await Promise.all([
        stack.createUser({ displayName: 'Alice' }),
        stack.createUser({ displayName: 'Bob' }),
        stack.createUser({ displayName: 'Carol' })
      ])
      const post = async (uri: string, payload: object, as = alice) => {
        const headers = await stack.identityHeaders(as, { method: 'POST', uri })
        const res = await fetch(chat.url + uri, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(payload) })
        if (res.status !== 201) throw new Error(`${uri}: ${res.status} ${await res.text()}`)
        return (await res.json()) as { id: string }
      }
      let conv = ''
      for (let i = 0; i < 20; i++) conv = (await post('/api/chat/conversations', { title: `Bench ${i}`, memberIds: [bob.userId] })).id
      for (let i = 0; i < 500; i++) {
        await post(`/api/chat/conversations/${conv}/messages`, { text: `message ${i}: the quick brown fox jumps over the lazy dog`, clientMessageId: `b${i}` })
      }
      // Carol is in 500 conversations, each with a message she has not read: the list is paged.
      for (let i = 0; i < 500; i++) {
        const id = (await post('/api/chat/conversations', { title: `Many ${i}`, memberIds: [alice.userId] }, carol)).id
        await post(`/api/chat/conversations/${id}/messages`, { text: `hello ${i}`, clientMessageId: `m${i}` })
      }

      // The steady state of a database that has been running: autovacuum would have analysed the
      // fresh tables within a minute and set their visibility maps (index-only scans), but at a
      // moment of its own choosing, which would switch query plans in the middle of a row.
      const admin = new pg.Client({ connectionString: stack.databaseUrl })
      await admin.connect()
      await admin.query('VACUUM ANALYZE').finally(() => admin.end())

      // What the edge would stamp: auth's answer for the route, refreshed every second (auth reuses
      // an assertion until 15 s before it expires, so each row's run must stay under ~14 s).
      const listUri = `/api/chat/conversations/${conv}/messages`
      const identity: Record<string, Record<string, string>> = {}
      const refresh = async () => {
        identity.list = await stack.identityHeaders(bob, { uri: listUri })
        identity.conversations = await stack.identityHeaders(bob, { uri: '/api/chat/conversations' })
        identity.conversations500 = await stack.identityHeaders(carol, { uri: '/api/chat/conversations' })
      }
      await refresh()
      const serverCpuMicros = () => procCpuUs(chat.pid)
      const timer = setInterval(() => void refresh().catch(() => {}), 1000)
      cleanups.push(() => clearInterval(timer))
      return {
        targets: [
          {
            name: CHAT_ROWS.list,
            url: `${chat.url}${listUri}?limit=50`,
            get headers() {
              return { accept: 'application/json', ...identity.list }
            },
            serverCpuMicros
          },
          {
            name: CHAT_ROWS.list10,
            url: `${chat.url}${listUri}?limit=10`,
            get headers() {
              return { accept: 'application/json', ...identity.list }
            },
            serverCpuMicros
          },
          {
            name: CHAT_ROWS.conversations,
            url: `${chat.url}/api/chat/conversations?limit=20`,
            get headers() {
              return { accept: 'application/json', ...identity.conversations }
            },
            serverCpuMicros
          },
          {
            name: CHAT_ROWS.conversations500,
            url: `${chat.url}/api/chat/conversations?limit=20`,
            get headers() {
              return { accept: 'application/json', ...identity.conversations500 }
            },
            serverCpuMicros
          },
          { name: CHAT_ROWS.floor, url: `${chat.url}/healthz`, serverCpuMicros }
        ],
        goals: [{ target: CHAT_ROWS.list, minRatio: 0.5 }],
        teardown
      }
    } catch (err) {
      await teardown()
      throw err
    }
  }
}
