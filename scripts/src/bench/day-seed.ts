/**
 * The database of the day scenario: a year of a mid-size team (10 000 people, 20 000
 * conversations — mostly 2–10 members, 100 of 100, one of 2 000 — 1 000 000 messages of realistic
 * lengths and 50 000 file records), built once into a template database named after the seed
 * version and size, then copied for each run (`CREATE DATABASE … TEMPLATE`, a file copy: seconds).
 *
 * The rows are generated inside PostgreSQL (`INSERT … SELECT generate_series`), which is COPY's
 * bulk path without the client: nothing crosses the socket. Indexes that are expensive to keep
 * while loading (the GIN text indexes) are dropped and built once at the end, and the change-notification
 * trigger (a NOTIFY per row, only for live caches) is off while loading. Bump SEED_VERSION whenever
 * the generated data or the migrations it is built on change.
 */
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createDatabase, runMigrations, serviceRoleName } from '@palisade/platform'
import { TEST_PG_ADMIN_URL, withDatabase } from '@palisade/platform/testing'

export const SEED_VERSION = 6

export interface DaySize {
  users: number
  conversations: number
  messages: number
  files: number
}

export const FULL_DAY: DaySize = { users: 10_000, conversations: 20_000, messages: 1_000_000, files: 50_000 }
export const QUICK_DAY: DaySize = { users: 300, conversations: 400, messages: 10_000, files: 200 }

const MIGRATIONS = ['chat', 'files'].map((s) => ({ schema: s, folder: fileURLToPath(new URL(`../../../services/${s}/drizzle`, import.meta.url)) }))

/** Words of chat, most frequent first; the generator draws them with a Zipf-like skew. */
const WORDS =
  'the to and a of i is it you that in for on we this be with can have will do at so not are just ok yes no but if' +
  ' meeting deploy release budget review team today tomorrow please thanks check update build test issue fix' +
  ' customer design draft plan call lunch friday monday report data server client login bug error log ticket' +
  ' sprint demo roadmap invoice contract hiring onboarding backup database migration cache latency outage' +
  ' incident dashboard metrics alert pager rollout feature branch merge commit staging production laptop' +
  ' coffee weekend holiday travel office remote schedule agenda notes slides feedback approve approved' +
  ' quarterly revenue forecast marketing campaign launch partner vendor security audit compliance policy'

/**
 * 5 % of the messages in the 2 000-member conversation, 20 % in the 100-member ones, the rest spread
 * over the small ones; senders are members; 3–40 words, mostly short; one in 20 with an attachment; in chunks of 100 000 rows.
 */
function messageChunks(size: DaySize): string[] {
  const { conversations, messages } = size
  const big = Math.max(1, Math.floor(conversations / 200))
  const out: string[] = []
  for (let from = 1; from <= messages; from += 100_000) {
    const to = Math.min(messages, from + 99_999)
    out.push(
      `INSERT INTO chat.messages (conversation_id, sender_id, text, client_message_id, created_at, attachments)
         SELECT c.id, u.id,
                (SELECT string_agg(CASE WHEN g < 0 OR random() < 0.04 THEN 'w' || floor(random() * 50000)::int
                                        ELSE w.w[floor(array_length(w.w, 1) ^ random())::int] END, ' ')
                   FROM generate_series(1, 3 + floor(random() ^ 3 * 37)::int + (j % 1)) g),
                'seed-' || j, now() - interval '365 days' * (1 - j::float8 / ${messages}),
                CASE WHEN j % 20 = 7 THEN ARRAY[gen_random_uuid()] ELSE '{}'::uuid[] END
         FROM generate_series(${from}, ${to}) j
         CROSS JOIN LATERAL (SELECT CASE WHEN j % 20 = 0 THEN 1 WHEN j % 20 < 5 THEN 2 + (j * 31) % ${big}
                                         ELSE 2 + ${big} + (j * 7) % GREATEST(1, ${conversations} - 1 - ${big}) END AS conv) pick
         JOIN bench_seed.convs c ON c.i = pick.conv
         JOIN bench_seed.members m ON m.conv = c.i AND m.k = (j * 13) % c.size
         JOIN bench_seed.users u ON u.i = m.user_i
         CROSS JOIN bench_seed.words w`
    )
  }
  return out
}

function seedSql(size: DaySize): string[] {
  const { users, conversations, files } = size
  const big = Math.max(1, Math.floor(conversations / 200))
  return [
    `CREATE SCHEMA bench_seed`,
    `CREATE TABLE bench_seed.words AS SELECT string_to_array('${WORDS}', ' ') AS w`,
    `CREATE TABLE bench_seed.users AS SELECT i, gen_random_uuid() AS id FROM generate_series(1, ${users}) i`,
    `ALTER TABLE bench_seed.users ADD PRIMARY KEY (i)`,
    // conversation 1 has 2 000 members (or everyone), the next `big` have 100, the rest 2–10
    `CREATE TABLE bench_seed.convs AS
       SELECT i, gen_random_uuid() AS id,
              CASE WHEN i = 1 THEN LEAST(2000, ${users}) WHEN i <= 1 + ${big} THEN LEAST(100, ${users}) ELSE 2 + floor(random() ^ 2 * 9)::int END AS size
       FROM generate_series(1, ${conversations}) i`,
    `ALTER TABLE bench_seed.convs ADD PRIMARY KEY (i)`,
    // member k of conversation i: a stride through the users that never repeats within one conversation
    `CREATE TABLE bench_seed.members AS
       SELECT c.i AS conv, k, ((c.i * 7919 + k * 104729) % ${users}) + 1 AS user_i
       FROM bench_seed.convs c, generate_series(0, c.size - 1) k`,
    `INSERT INTO chat.conversations (id, title, owner_id, member_count, created_at, updated_at, last_activity_at, activity_seq)
       SELECT c.id, 'Conversation ' || c.i, u.id, c.size, now() - interval '400 days', now() - interval '400 days', now() - interval '400 days', c.i
       FROM bench_seed.convs c JOIN bench_seed.members m ON m.conv = c.i AND m.k = 0 JOIN bench_seed.users u ON u.i = m.user_i`,
    `INSERT INTO chat.members (conversation_id, user_id, role, joined_at)
       SELECT c.id, u.id, CASE WHEN m.k = 0 THEN 'owner' ELSE 'member' END, now() - interval '400 days'
       FROM bench_seed.members m JOIN bench_seed.convs c ON c.i = m.conv JOIN bench_seed.users u ON u.i = m.user_i`,
    'ALTER TABLE chat.messages DISABLE TRIGGER messages_notify',
    ...messageChunks(size),
    'ALTER TABLE chat.messages ENABLE TRIGGER messages_notify',
    // counters and order, as the service would have kept them: most members have read everything,
    // one in five has 1–20 messages unread
    `CREATE TABLE bench_seed.positions AS
       SELECT conversation_id, seq, row_number() OVER (PARTITION BY conversation_id ORDER BY seq) AS pos, count(*) OVER (PARTITION BY conversation_id) AS total
       FROM chat.messages`,
    `CREATE INDEX ON bench_seed.positions (conversation_id, pos)`,
    `UPDATE chat.conversations c SET message_count = t.total, activity_seq = 1000000000 + t.last, last_activity_at = t.at, updated_at = t.at
       FROM (SELECT conversation_id, count(*) AS total, max(seq) AS last, max(created_at) AS at FROM chat.messages GROUP BY conversation_id) t
       WHERE t.conversation_id = c.id`,
    `SELECT setval('chat.activity_seq', (SELECT max(activity_seq) + 1 FROM chat.conversations))`,
    `UPDATE chat.members m SET last_read_seq = p.seq, read_count = p.pos
       FROM (SELECT c.id, c.message_count FROM chat.conversations c WHERE c.message_count > 0) c,
            LATERAL (SELECT CASE WHEN random() < 0.2 THEN LEAST(c.message_count - 1, 1 + floor(random() * 20)::int) ELSE 0 END AS unread) u,
            bench_seed.positions p
       WHERE m.conversation_id = c.id AND p.conversation_id = c.id AND p.pos = c.message_count - u.unread`,
    `INSERT INTO files.files (id, owner_id, conversation_id, name, type, size, sha256, status, scanned_at, created_at)
       SELECT gen_random_uuid(), u.id, c.id, 'file-' || j || '.pdf', 'application/pdf', 10000 + (j * 7919) % 5000000,
              md5(j::text) || md5((j + 1)::text), 'clean', now(), now() - interval '365 days' * random()
       FROM generate_series(1, ${files}) j
       JOIN bench_seed.convs c ON c.i = 1 + (j * 17) % ${conversations}
       JOIN bench_seed.members m ON m.conv = c.i AND m.k = 0
       JOIN bench_seed.users u ON u.i = m.user_i`,
    `CREATE TABLE bench_seed.user_ids AS SELECT i, id FROM bench_seed.users`,
    `DROP TABLE bench_seed.positions, bench_seed.members, bench_seed.words`
  ]
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

const templateName = (size: DaySize) => `palisade_day_v${SEED_VERSION}_${size.messages}`

/** Builds the template database for `size` unless it exists; returns its name and how long the build took (0 when cached). */
export async function ensureDayTemplate(size: DaySize, log: (line: string) => void = () => {}): Promise<{ template: string; seedMs: number }> {
  const template = templateName(size)
  const exists = await admin(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate', [template])).rowCount === 1)
  if (exists) return { template, seedMs: 0 }
  const building = `${template}_building`
  const started = Date.now()
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`)
    await c.query(`CREATE DATABASE "${building}"`)
  })
  // no statement timeout: the largest statements run for minutes on a busy machine
  const pool = new pg.Pool({ connectionString: withDatabase(TEST_PG_ADMIN_URL, building), application_name: 'day-seed', max: 1 })
  try {
    for (const m of MIGRATIONS) await runMigrations(createDatabase(pool), m.folder, m.schema)
    // The text indexes (GIN) are built once after loading, as the migrations define them.
    const gin = await pool.query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'chat' AND tablename = 'messages' AND indexdef LIKE '%USING gin%'"
    )
    const statements = [...gin.rows.map((r) => `DROP INDEX chat."${r.indexname}"`), ...seedSql(size), ...gin.rows.map((r) => r.indexdef)]
    for (const stmt of statements) {
      const t0 = Date.now()
      await pool.query(stmt)
      log(`  ${(Date.now() - t0).toString().padStart(6)} ms  ${stmt.trim().split('\n')[0]!.slice(0, 90)}`)
    }
    await pool.query('VACUUM ANALYZE')
  } finally {
    await pool.end()
  }
  await admin(async (c) => {
    await c.query(`ALTER DATABASE "${building}" RENAME TO "${template}"`)
    await c.query(`ALTER DATABASE "${template}" WITH IS_TEMPLATE true`)
  })
  return { template, seedMs: Date.now() - started }
}

/** A fresh copy of the day database for one run. */
export async function dayDatabase(
  size: DaySize,
  log?: (line: string) => void
): Promise<{ name: string; url: string; seedMs: number; copyMs: number; drop(): Promise<void> }> {
  const { template, seedMs } = await ensureDayTemplate(size, log)
  const name = `day_${Date.now().toString(36)}`
  const t0 = Date.now()
  await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`))
  return {
    name,
    url: withDatabase(TEST_PG_ADMIN_URL, name),
    seedMs,
    copyMs: Date.now() - t0,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined)
  }
}

/**
 * The template was built by the superuser; the launcher makes each service's role own its schema,
 * but the tables in it stay the builder's. Creating the roles first (the launcher then only sets
 * their passwords) lets the copy's objects be handed to them as the service's own migrations would.
 */
export async function handOverSeed(db: pg.Client, database: string): Promise<void> {
  for (const service of ['chat', 'files']) {
    const role = serviceRoleName(database, service)
    await db.query(`CREATE ROLE "${role}" NOLOGIN`)
    await db.query(`ALTER SCHEMA "${service}" OWNER TO "${role}"`)
    const objects = await db.query<{ kind: string; name: string }>(
      `SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'S', 'v', 'm') AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
       UNION ALL SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1`,
      [service]
    )
    for (const o of objects.rows) {
      const name = o.kind === 'FUNCTION' ? o.name : `"${service}"."${o.name}"`
      await db.query(`ALTER ${o.kind} ${name} OWNER TO "${role}"`)
    }
  }
}
