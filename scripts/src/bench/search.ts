/**
 * Search on a year's database (day-seed.ts: 1 000 000 messages in 20 000 conversations), through
 * chat's real HTTP route with identity headers: typical queries — a common word, a rare one, two
 * words, a phrase, and the filters (`from:me`, `in:`, `has:file`, a date range) — each asked one
 * at a time (the latency a person waits for, not a saturated queue), rotating over searchers with
 * typical memberships, one of them also in the 2 000-member conversation. Goal: p99 ≤ 50 ms.
 *
 * The searchers are real accounts (auth, sessions) that take over seeded people's memberships and
 * messages. BENCH_DAY_SIZE=quick uses the small seed (CI sanity); the full template is built once
 * (about two minutes) and reused.
 */
import { loadavg } from 'node:os'
import pg from 'pg'
import { startTestStack, type TestUser } from '@palisade/testkit'
import { dayDatabase, FULL_DAY, QUICK_DAY } from './day-seed.js'
import { discardStream, type Bench, type Measurement, benchCleanups } from './framework.js'
import { startStackService } from './service-process.js'

const SIZE = process.env.BENCH_DAY_SIZE === 'quick' ? QUICK_DAY : FULL_DAY
const SEARCHERS = 4
const REQUESTS_PER_QUERY = Number(process.env.BENCH_SEARCH_REQUESTS ?? 100)

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
}

export const searchBench: Bench = {
  name: 'search',
  description: `chat search on ${SIZE.messages.toLocaleString('en')} messages, typical queries one at a time`,
  async setup() {
    const cleanups = benchCleanups()
    const host = cleanups.host
    try {
      const day = await dayDatabase(SIZE, (line) => process.stdout.write(`${line}\n`))
      cleanups.push(() => day.drop())
      process.stdout.write(`day database: seeded in ${day.seedMs} ms (0 = cached template), copied in ${day.copyMs} ms\n`)
      const stack = await startTestStack(host, { authLogStream: discardStream() })
      const users: TestUser[] = []
      for (let i = 0; i < SEARCHERS; i++) users.push(await stack.createUser({ displayName: `Searcher ${i}` }))
      // Each searcher becomes a seeded person: a median one, and (the first) one of the big conversation.
      const db = new pg.Client({ connectionString: day.url })
      await db.connect()
      const conversations: string[] = []
      try {
        const picked = await db.query<{ id: string }>(
          `WITH counts AS (SELECT user_id, count(*) AS n, bool_or(c.member_count >= 1000) AS big
                           FROM chat.members m JOIN chat.conversations c ON c.id = m.conversation_id GROUP BY user_id),
                median AS (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n) AS n FROM counts)
           SELECT user_id AS id FROM counts, median WHERE counts.n = median.n ORDER BY big DESC, user_id LIMIT $1`,
          [SEARCHERS]
        )
        users.splice(picked.rows.length)
        for (const [i, row] of picked.rows.entries()) {
          const to = users[i]!.userId
          await db.query('UPDATE chat.members SET user_id = $2 WHERE user_id = $1', [row.id, to])
          await db.query('UPDATE chat.messages SET sender_id = $2 WHERE sender_id = $1', [row.id, to])
          const c = await db.query<{ conversation_id: string }>(
            `SELECT m.conversation_id FROM chat.members m JOIN chat.conversations c ON c.id = m.conversation_id
             WHERE m.user_id = $1 ORDER BY c.message_count DESC LIMIT 1`,
            [to]
          )
          conversations.push(c.rows[0]!.conversation_id)
        }
        await db.query('VACUUM ANALYZE chat.members, chat.messages')
      } finally {
        await db.end()
      }
      const chat = await startStackService(host, stack, 'chat', { DATABASE_URL: day.url, CHAT_RATE_LIMIT_PER_MINUTE: 1_000_000 })
      const queries: Array<{ name: string; q: (i: number) => string }> = [
        { name: 'a common word ("meeting")', q: () => 'meeting' },
        { name: 'a rare word', q: (i) => `w${1000 + i * 7}` },
        { name: 'two words ("deploy friday")', q: () => 'deploy friday' },
        { name: 'a phrase ("release plan")', q: () => '"release plan"' },
        { name: 'word + from:me', q: () => 'budget from:me' },
        { name: 'word + in: biggest conversation', q: (i) => `review in:${conversations[i % conversations.length]}` },
        { name: 'has:file (filters only)', q: () => 'has:file' },
        { name: 'word + after: + before: (one month)', q: () => 'update after:2026-06-01 before:2026-07-01' }
      ]
      return {
        targets: [],
        async measure(): Promise<Measurement[]> {
          const rows: Measurement[] = []
          for (const query of queries) {
            const times: number[] = []
            let errors = 0
            // a few first requests warm the plan cache and the pages a running server would hold
            for (let n = -3; n < REQUESTS_PER_QUERY; n++) {
              const i = (n + users.length) % users.length
              const user = users[i]!
              const uri = `/api/chat/search?q=${encodeURIComponent(query.q(i))}&limit=20`
              const headers = await stack.identityHeaders(user, { uri })
              const t0 = performance.now()
              const res = await fetch(chat.url + uri, { headers })
              await res.arrayBuffer()
              if (n < 0) continue
              times.push(performance.now() - t0)
              if (res.status !== 200) errors++
            }
            times.sort((a, b) => a - b)
            const r = (x: number) => Math.round(x * 10) / 10
            rows.push({
              name: `search: ${query.name}`,
              reqPerSec: r(1000 / (times.reduce((a, b) => a + b, 0) / times.length)),
              p50: r(percentile(times, 50)),
              p99: r(percentile(times, 99)),
              cpuUsPerReq: 0,
              errors,
              unexpected: 0
            })
          }
          process.stdout.write(`search rows measured at load average ${loadavg()[0]!.toFixed(1)}\n`)
          return rows
        },
        goals: queries.map((q) => ({ target: `search: ${q.name}`, maxP99Ms: 50 })),
        teardown: cleanups.run
      }
    } catch (err) {
      await cleanups.run()
      throw err
    }
  }
}
