import type { Session } from '@palisade/contracts'
import type { AuthDeps } from './deps.js'
import { deviceName } from './device-name.js'
import { liveSession } from './sessions.js'

/** The live sessions of a user as the sessions lists show them: the current one first, then by last use. */
export async function liveSessions(deps: AuthDeps, userId: string, currentSessionId?: string): Promise<Session[]> {
  const r = await deps.pool.query<{ id: string; created_at: Date; last_used_at: Date; user_agent: string; ip: string }>(
    `SELECT id, created_at, last_used_at, user_agent, ip FROM auth.sessions
      WHERE user_id = $1 AND ${liveSession('$2')}
      ORDER BY id = $3 DESC, last_used_at DESC LIMIT 500`,
    [userId, deps.config.AUTH_SESSION_IDLE_SECONDS, currentSessionId ?? '00000000-0000-0000-0000-000000000000']
  )
  return r.rows.map((s) => ({
    id: s.id,
    createdAt: s.created_at.toISOString(),
    lastUsedAt: s.last_used_at.toISOString(),
    userAgent: s.user_agent,
    device: deviceName(s.user_agent).slice(0, 128),
    ip: s.ip,
    current: s.id === currentSessionId
  }))
}
