import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { ErrorCode, type OidcIdentity } from '@palisade/contracts'
import { ProblemError, problems, withTransaction } from '@palisade/platform'
import type { AuthConfig } from '../../config.js'
import { createAccount, type CreatedAccount } from '../registration.js'
import type { OidcProvider } from './providers.js'
import type { VerifiedIdentity } from './flow.js'
import type { AuthCore } from '../core.js'
import { setRole } from '../admin-accounts.js'

/**
 * The password hash of an account created by an OpenID sign-in: not an argon2 hash, so no password
 * ever verifies against it (verifyPassword answers false on a malformed hash).
 */
export const NO_PASSWORD = '!oidc-no-password'

export const hasPassword = (passwordHash: string) => passwordHash.startsWith('$argon2')

/** `amr` values (RFC 8176) that mean more than one factor, for providers ops trust with MFA. */
const MULTI_FACTOR_AMR = new Set(['mfa', 'otp', 'hwk', 'sc'])

export function providerDidMfa(provider: OidcProvider, identity: VerifiedIdentity): boolean {
  return provider.settings.trustMfa === true && identity.amr.some((m) => MULTI_FACTOR_AMR.has(m))
}

/** The account an identity belongs to, and touches its last use. */
export async function accountOfIdentity(pool: pg.Pool, identity: VerifiedIdentity): Promise<string | undefined> {
  const r = await pool.query<{ user_id: string }>(
    'UPDATE auth.oidc_identities SET last_login_at = now() WHERE issuer = $1 AND subject = $2 RETURNING user_id',
    [identity.issuer, identity.subject]
  )
  return r.rows[0]?.user_id
}

const notAllowed = (detail: string) => new ProblemError(403, ErrorCode.oidcNotAllowed, detail)

/** The provider's `allowedGroups` rule: is the identity in one of them (a missing groups claim is in none)? */
export function inAllowedGroup(provider: OidcProvider, identity: VerifiedIdentity): boolean {
  const allowed = provider.settings.allowedGroups
  return !allowed || identity.groups?.some((g) => allowed.includes(g)) === true
}

/**
 * The provider's `adminGroup` rule, at every sign-in through it: in the group → admin, otherwise
 * member. A change goes through setRole (the account's other sessions end, as with any role change)
 * and is audited; demoting the last enabled admin is refused there and leaves the role as it was.
 * Returns whether the role changed.
 */
export async function syncRole(core: AuthCore, provider: OidcProvider, userId: string, identity: VerifiedIdentity, ip: string): Promise<boolean> {
  const group = provider.settings.adminGroup
  if (group === undefined) return false
  const role = identity.groups?.includes(group) ? 'admin' : 'member'
  const details = { provider: provider.settings.id, role }
  try {
    const { changed } = await setRole(core, userId, role)
    if (changed) await core.audit({ event: 'oidc.role_changed', userId, ip, details })
    return changed
  } catch (err) {
    if (!(err instanceof ProblemError && err.code === ErrorCode.lastAdmin)) throw err
    await core.audit({ event: 'oidc.role_change_refused', userId, ip, details: { ...details, reason: 'last-admin' } })
    return false
  }
}

/**
 * First sign-in of an identity nobody linked: a new account, under the registration mode, for a
 * verified address in an allowed domain. An address that already has a local account is never
 * linked here (whoever controls the address at the provider is not thereby its owner here).
 */
export async function createAccountForIdentity(pool: pg.Pool, config: AuthConfig, provider: OidcProvider, identity: VerifiedIdentity): Promise<CreatedAccount> {
  const { email } = identity
  if (!email || !identity.emailVerified) throw notAllowed('Your provider did not share a verified email address, which a new account needs')
  const domains = provider.settings.allowedEmailDomains
  if (domains && !domains.map((d) => d.toLowerCase()).includes(email.slice(email.lastIndexOf('@') + 1))) {
    throw notAllowed('Accounts from this email domain are not allowed here')
  }
  const collision = () =>
    new ProblemError(
      409,
      ErrorCode.oidcEmailCollision,
      'An account with this email already exists: sign in with your password, then link this provider from your account page'
    )
  const taken = await pool.query('SELECT 1 FROM auth.users WHERE email = $1', [email])
  if (taken.rowCount) throw collision()
  const displayName = (identity.name?.trim() || email.slice(0, email.indexOf('@'))).slice(0, 100)
  let created: CreatedAccount
  try {
    created = await createAccount(pool, { email, displayName, passwordHash: NO_PASSWORD }, { as: 'self', mode: config.AUTH_REGISTRATION })
  } catch (err) {
    if (err instanceof ProblemError && err.code === ErrorCode.emailTaken) throw collision()
    throw err
  }
  await insertIdentity(pool, created.id, provider, identity)
  return created
}

/** Links an identity to a signed-in account; refused when another account holds it. */
export async function linkIdentity(pool: pg.Pool, userId: string, provider: OidcProvider, identity: VerifiedIdentity): Promise<void> {
  const owner = await pool.query<{ user_id: string }>('SELECT user_id FROM auth.oidc_identities WHERE issuer = $1 AND subject = $2', [
    identity.issuer,
    identity.subject
  ])
  if (owner.rows[0]) {
    if (owner.rows[0].user_id === userId) return
    throw notAllowed('This identity is already linked to another account')
  }
  await insertIdentity(pool, userId, provider, identity)
}

async function insertIdentity(pool: pg.Pool, userId: string, provider: OidcProvider, identity: VerifiedIdentity): Promise<void> {
  const r = await pool.query(
    `INSERT INTO auth.oidc_identities (id, user_id, provider, issuer, subject, email) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (issuer, subject) DO NOTHING`,
    [randomUUID(), userId, provider.settings.id, identity.issuer, identity.subject, identity.email ?? null]
  )
  if (r.rowCount !== 1) throw notAllowed('This identity is already linked to another account')
}

export async function listIdentities(pool: pg.Pool, userId: string): Promise<OidcIdentity[]> {
  const r = await pool.query<{ id: string; provider: string; issuer: string; email: string | null; created_at: Date }>(
    'SELECT id, provider, issuer, email, created_at FROM auth.oidc_identities WHERE user_id = $1 ORDER BY created_at',
    [userId]
  )
  return r.rows.map((x) => ({ id: x.id, provider: x.provider, issuer: x.issuer, email: x.email, createdAt: x.created_at.toISOString() }))
}

/**
 * Unlinks one identity unless it is the account's last way to sign in (no password, no other
 * identity). Row-locks the user so two simultaneous unlinks cannot both pass the check.
 */
export async function unlinkIdentity(pool: pg.Pool, userId: string, identityId: string): Promise<void> {
  await withTransaction(pool, async (c) => {
    const u = await c.query<{ password_hash: string }>('SELECT password_hash FROM auth.users WHERE id = $1 FOR UPDATE', [userId])
    const rows = (await c.query<{ id: string }>('SELECT id FROM auth.oidc_identities WHERE user_id = $1', [userId])).rows
    if (!rows.some((r) => r.id === identityId)) throw problems.notFound('No such linked identity')
    if (!hasPassword(u.rows[0]?.password_hash ?? '') && rows.length < 2) {
      throw new ProblemError(409, ErrorCode.lastSignInMethod, 'This is your only way to sign in; link another provider first')
    }
    await c.query('DELETE FROM auth.oidc_identities WHERE id = $1 AND user_id = $2', [identityId, userId])
  })
}
