import type pg from 'pg'
import { ErrorCode, type Role } from '@palisade/contracts'
import { ProblemError, problems } from '@palisade/platform'
import type { AuthDeps } from './deps.js'
import { ACCOUNTS_LOCK } from './registration.js'
import { emitRevocation, type RevokeReason } from './sessions.js'

interface Target {
  id: string
  roles: string[]
  disabled: boolean
}

/**
 * Runs `change` on one account under the accounts lock (the one registration takes): every
 * decision about who stays admin is serialised, so two admins demoting or disabling each other at
 * the same instant cannot leave the installation without one. Sessions and tokens revoked inside are
 * announced in the same transaction (its outbox → NATS → gateway closes the sockets), and dropped
 * from this instance's caches once it is committed.
 */
async function changeAccount(
  deps: AuthDeps,
  targetId: string,
  reason: RevokeReason,
  change: (client: pg.PoolClient, target: Target) => Promise<{ revoke: boolean; changed: boolean }>
): Promise<{ changed: boolean; revoked: string[] }> {
  const out = await deps.outbox.transaction(async (client, emit) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [ACCOUNTS_LOCK])
    const r = await client.query<{ id: string; roles: string[]; disabled: boolean }>(
      'SELECT id, roles, disabled_at IS NOT NULL AS disabled FROM auth.users WHERE id = $1 FOR UPDATE',
      [targetId]
    )
    const target = r.rows[0]
    if (!target) throw problems.notFound('User not found')
    const { revoke, changed } = await change(client, target)
    if (!revoke) return { changed, revoked: [] }
    const s = await client.query<{ id: string }>(
      'UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id',
      [targetId, reason]
    )
    // Personal access tokens are sessions too (their id is the session id): they end with the rest.
    const t = await client.query<{ id: string }>('UPDATE auth.personal_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id', [
      targetId
    ])
    const revoked = [...s.rows, ...t.rows].map((x) => x.id)
    emitRevocation(emit, targetId, revoked, reason)
    return { changed, revoked }
  })
  deps.cache.revoke(out.revoked)
  return out
}

/** Refuses to take away the last enabled admin (caller holds the accounts lock). */
async function keepOneAdmin(client: pg.PoolClient, target: Target): Promise<void> {
  if (target.disabled || !target.roles.includes('admin')) return
  const r = await client.query<{ n: string }>("SELECT count(*) AS n FROM auth.users WHERE roles = '{admin}'::text[] AND disabled_at IS NULL")
  if (Number(r.rows[0]?.n) <= 1) throw new ProblemError(409, ErrorCode.lastAdmin, 'This is the last enabled administrator; promote someone else first')
}

/** Disables an account and revokes every session it has, in one transaction. */
export function disableAccount(deps: AuthDeps, targetId: string) {
  return changeAccount(deps, targetId, 'account-disabled', async (client, target) => {
    await keepOneAdmin(client, target)
    if (!target.disabled) await client.query('UPDATE auth.users SET disabled_at = now() WHERE id = $1', [target.id])
    // Revoke even when already disabled: a session must never outlive a disable.
    return { revoke: true, changed: !target.disabled }
  })
}

export function enableAccount(deps: AuthDeps, targetId: string) {
  return changeAccount(deps, targetId, 'admin', async (client, target) => {
    if (target.disabled) await client.query('UPDATE auth.users SET disabled_at = NULL WHERE id = $1', [target.id])
    return { revoke: false, changed: target.disabled }
  })
}

/**
 * Sets the account's role. Its sessions end, so no access token or assertion outlives the roles
 * it carries (a demoted admin loses admin rights everywhere at once, sockets included).
 */
export function setRole(deps: AuthDeps, targetId: string, role: Role) {
  return changeAccount(deps, targetId, 'role-changed', async (client, target) => {
    if (target.roles.length === 1 && target.roles[0] === role) return { revoke: false, changed: false }
    if (role !== 'admin') await keepOneAdmin(client, target)
    await client.query('UPDATE auth.users SET roles = $2 WHERE id = $1', [target.id, [role]])
    return { revoke: true, changed: true }
  })
}
