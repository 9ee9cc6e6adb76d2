import { PRESENCE_LIMITS, type ChatPresenceReportRequest, type Presence, type PresenceList, type PresenceStatus } from '@palisade/contracts'
import { withTransaction } from '@palisade/platform'
import type { ChatStore } from './context.js'
import { requireMember } from './members.js'

/**
 * Presence is aggregated here from every gateway instance: each reports how many sockets it holds
 * for a user (`presence_sockets`) and announces itself (`presence_instances`, with an expiry), so a
 * user is online while any live instance holds a socket of theirs. `presence_users.status` is what
 * others were last told; reports and the sweeper move it and announce `presence.changed` to everyone
 * who shares a conversation with the user (lib/presence-announcer.ts) — only on a change, never per
 * activity report.
 */

interface PresenceDbRow {
  user_id: string
  status: PresenceStatus | null
  hidden: boolean | null
  last_active_at: Date | null
  last_seen_at: Date | null
}

const LIVE_SOCKETS = `EXISTS (SELECT 1 FROM chat.presence_sockets s JOIN chat.presence_instances i ON i.instance_id = s.instance_id
                              WHERE s.user_id = p.user_id AND i.expires_at > now())`

/** What another user sees: hidden presence (and no row: never connected) reads offline without last seen. */
export function visiblePresence(r: PresenceDbRow, viewerId?: string): Presence {
  if (!r.status || (r.hidden && r.user_id !== viewerId)) return { userId: r.user_id, status: 'offline', lastActiveAt: null, lastSeenAt: null }
  return {
    userId: r.user_id,
    status: r.status,
    lastActiveAt: r.status !== 'offline' && r.last_active_at ? r.last_active_at.toISOString() : null,
    lastSeenAt: r.status === 'offline' && r.last_seen_at ? r.last_seen_at.toISOString() : null
  }
}

function announce(store: ChatStore, row: PresenceDbRow): void {
  store.presence.announce(visiblePresence(row))
}

/** A gateway instance's report about the acting user's sockets there (ChatPresenceReport). */
export async function reportPresence(store: ChatStore, userId: string, report: ChatPresenceReportRequest): Promise<void> {
  const { before, after } = await withTransaction(store.pg, async (c) => {
    // The user's row first, locked: reports of several instances for one user apply one at a time.
    const prev = await c.query<PresenceDbRow>(
      `INSERT INTO chat.presence_users AS p (user_id) VALUES ($1)
       ON CONFLICT (user_id) DO UPDATE SET user_id = p.user_id
       RETURNING user_id, status, hidden, last_active_at, last_seen_at`,
      [userId]
    )
    // A report proves its instance alive, but the instance's row is written only when it is missing
    // (the report overtook the instance's first announcement) or past half its life (announcements
    // stopped arriving). Every report of an instance writing it held that one row's lock until its
    // commit, so a wave of sockets connecting to one gateway queued behind each other's commits and
    // took every pooled connection with them (docs/performance.md, "Chat stalled after a connect
    // wave"). Now a fresh row is only read (no lock), a stale one is renewed by the first report
    // (the others find it fresh once that commits), and a missing one is inserted by the first
    // (the others wait for that commit, then insert nothing and hold no lock).
    await c.query(
      `WITH renewed AS (
         UPDATE chat.presence_instances SET expires_at = now() + make_interval(secs => $2 / 1000.0)
         WHERE instance_id = $1 AND expires_at <= now() + make_interval(secs => $2 / 2000.0)
       )
       INSERT INTO chat.presence_instances (instance_id, expires_at)
       SELECT $1::uuid, now() + make_interval(secs => $2 / 1000.0)
       WHERE NOT EXISTS (SELECT 1 FROM chat.presence_instances WHERE instance_id = $1)
       ON CONFLICT (instance_id) DO NOTHING`,
      [report.instanceId, PRESENCE_LIMITS.instanceTtlMs]
    )
    if (report.sockets > 0) {
      await c.query(
        `INSERT INTO chat.presence_sockets (user_id, instance_id, sockets) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, instance_id) DO UPDATE SET sockets = EXCLUDED.sockets`,
        [userId, report.instanceId, report.sockets]
      )
    } else {
      await c.query('DELETE FROM chat.presence_sockets WHERE user_id = $1 AND instance_id = $2', [userId, report.instanceId])
    }
    const next = await c.query<PresenceDbRow>(
      `UPDATE chat.presence_users p SET
         last_active_at = CASE WHEN $2 THEN now() ELSE p.last_active_at END,
         status = CASE WHEN NOT ${LIVE_SOCKETS} THEN 'offline'
                       WHEN $2 OR p.last_active_at > now() - make_interval(secs => $3 / 1000.0) THEN 'online'
                       ELSE 'away' END,
         last_seen_at = CASE WHEN NOT ${LIVE_SOCKETS} AND p.status <> 'offline' THEN now() ELSE p.last_seen_at END
       WHERE p.user_id = $1
       RETURNING user_id, status, hidden, last_active_at, last_seen_at`,
      [userId, report.active, PRESENCE_LIMITS.awayAfterMs]
    )
    return { before: prev.rows[0]!, after: next.rows[0]! }
  })
  if (before.status !== after.status && !after.hidden) announce(store, after)
}

/** A gateway instance announced itself (`ttlMs` > 0) or is shutting down (0: its sockets are gone now). */
export async function instanceHeartbeat(store: ChatStore, instanceId: string, ttlMs: number): Promise<void> {
  if (ttlMs === 0) {
    await store.pg.query('DELETE FROM chat.presence_instances WHERE instance_id = $1', [instanceId])
    await sweepPresence(store)
    return
  }
  await store.pg.query(
    `INSERT INTO chat.presence_instances (instance_id, expires_at) VALUES ($1, now() + make_interval(secs => $2 / 1000.0))
     ON CONFLICT (instance_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
    [instanceId, ttlMs]
  )
}

/**
 * Moves what time alone changes: online users inactive for PRESENCE_LIMITS.awayAfterMs become away,
 * users whose every socket was on instances that stopped announcing themselves become offline.
 * Each row changes in one UPDATE, so with several chat instances sweeping, exactly one announces it.
 */
export async function sweepPresence(store: ChatStore): Promise<number> {
  await store.pg.query('DELETE FROM chat.presence_instances WHERE expires_at <= now()')
  const r = await store.pg.query<PresenceDbRow>(
    `UPDATE chat.presence_users p SET
       status = CASE WHEN NOT ${LIVE_SOCKETS} THEN 'offline' ELSE 'away' END,
       last_seen_at = CASE WHEN NOT ${LIVE_SOCKETS} THEN now() ELSE p.last_seen_at END
     WHERE p.status <> 'offline' AND (NOT ${LIVE_SOCKETS} OR (p.status = 'online' AND p.last_active_at <= now() - make_interval(secs => $1 / 1000.0)))
     RETURNING user_id, status, hidden, last_active_at, last_seen_at`,
    [PRESENCE_LIMITS.awayAfterMs]
  )
  for (const row of r.rows) if (!row.hidden) announce(store, row)
  return r.rowCount ?? 0
}

/** Presence of every member of a conversation the caller belongs to (404 otherwise). */
export async function conversationPresence(store: ChatStore, userId: string, conversationId: string): Promise<PresenceList> {
  await requireMember(store, conversationId, userId)
  const r = await store.pg.query<PresenceDbRow>({
    name: 'chat_conversation_presence',
    text: `SELECT m.user_id, p.status, p.hidden, p.last_active_at, p.last_seen_at
           FROM chat.members m LEFT JOIN chat.presence_users p ON p.user_id = m.user_id
           WHERE m.conversation_id = $1 ORDER BY m.user_id`,
    values: [conversationId]
  })
  return { items: r.rows.map((row) => visiblePresence(row, userId)) }
}

export async function presenceHidden(store: ChatStore, userId: string): Promise<boolean> {
  const r = await store.pg.query<{ hidden: boolean }>('SELECT hidden FROM chat.presence_users WHERE user_id = $1', [userId])
  return r.rows[0]?.hidden ?? false
}

/** Hiding tells every peer "offline" at once; showing again tells them the real state. */
export async function setPresenceHidden(store: ChatStore, userId: string, hidden: boolean): Promise<void> {
  const r = await store.pg.query<PresenceDbRow & { was_hidden: boolean | null }>(
    `WITH prev AS (SELECT hidden FROM chat.presence_users WHERE user_id = $1)
     INSERT INTO chat.presence_users AS p (user_id, hidden) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE SET hidden = EXCLUDED.hidden
     RETURNING user_id, status, hidden, last_active_at, last_seen_at, (SELECT hidden FROM prev) AS was_hidden`,
    [userId, hidden]
  )
  const row = r.rows[0]!
  if ((row.was_hidden ?? false) !== hidden && row.status !== 'offline') announce(store, row)
}
