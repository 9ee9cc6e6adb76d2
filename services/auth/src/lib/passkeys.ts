import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticatorTransportFuture
} from '@simplewebauthn/server'
import type { PasskeyAuthentication, PasskeyRegistration } from '@palisade/contracts'

/** Where passkeys are made and used: checked exactly on every ceremony (AUTH_WEBAUTHN_ORIGIN / _RP_ID). */
export interface RelyingParty {
  rpId: string
  origin: string
}

export interface PasskeyDeps {
  readonly pool: pg.Pool
  readonly party: RelyingParty
}

/**
 * What a challenge was issued for: `register` and `reauth` bind to a session, `mfa` to a login
 * ticket, `enrol` to an enrolment ticket, `login` (passkey-only sign-in) to nothing: the
 * credential names the user.
 */
export type ChallengePurpose = 'register' | 'reauth' | 'mfa' | 'enrol' | 'login'

const CHALLENGE_TTL_SECONDS = 300

async function storeChallenge(pool: pg.Pool, challenge: string, purpose: ChallengePurpose, binding: string, userId: string | null): Promise<void> {
  await pool.query('DELETE FROM auth.webauthn_challenges WHERE expires_at < now()')
  await pool.query(
    'INSERT INTO auth.webauthn_challenges (challenge, purpose, binding, user_id, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))',
    [challenge, purpose, binding, userId, CHALLENGE_TTL_SECONDS]
  )
}

/**
 * Takes the challenge the client data names out of the store (every challenge answers at most one
 * ceremony, verified or not); undefined when it was not issued for this purpose and binding, was
 * already answered or expired.
 */
async function takeChallenge(
  pool: pg.Pool,
  clientDataJSON: string,
  purpose: ChallengePurpose,
  binding: string
): Promise<{ challenge: string; userId: string | null } | undefined> {
  let challenge: unknown
  try {
    challenge = (JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown }).challenge
  } catch {
    return undefined
  }
  if (typeof challenge !== 'string' || challenge.length > 128) return undefined
  const r = await pool.query<{ user_id: string | null }>(
    'DELETE FROM auth.webauthn_challenges WHERE challenge = $1 AND purpose = $2 AND binding = $3 AND expires_at > now() RETURNING user_id',
    [challenge, purpose, binding]
  )
  const row = r.rows[0]
  return row ? { challenge, userId: row.user_id } : undefined
}

interface StoredPasskey {
  id: string
  user_id: string
  credential_id: string
  public_key: string
  counter: string
  transports: string[]
}

async function passkeysOf(pool: pg.Pool, userId: string): Promise<StoredPasskey[]> {
  const r = await pool.query<StoredPasskey>('SELECT * FROM auth.passkeys WHERE user_id = $1 ORDER BY created_at', [userId])
  return r.rows
}

const asTransports = (t: string[]) => t as AuthenticatorTransportFuture[]

/** Options to create a passkey for `user` (a discoverable credential, so it can sign in alone later). */
export async function registrationOptions(
  deps: PasskeyDeps,
  user: { id: string; email: string; displayName: string },
  purpose: 'register' | 'enrol',
  binding: string
) {
  const existing = await passkeysOf(deps.pool, user.id)
  const options = await generateRegistrationOptions({
    rpName: 'Palisade',
    rpID: deps.party.rpId,
    userName: user.email,
    userDisplayName: user.displayName,
    userID: Buffer.from(user.id.replace(/-/g, ''), 'hex'),
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: asTransports(p.transports) })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' }
  })
  await storeChallenge(deps.pool, options.challenge, purpose, binding, user.id)
  return { ...options }
}

/** Verifies a new credential against its challenge, origin and RP id, and stores it; undefined when anything is off. */
export async function registerPasskey(
  deps: PasskeyDeps,
  userId: string,
  purpose: 'register' | 'enrol',
  binding: string,
  name: string,
  credential: PasskeyRegistration
): Promise<{ id: string; name: string; createdAt: Date } | undefined> {
  const taken = await takeChallenge(deps.pool, credential.response.clientDataJSON, purpose, binding)
  if (!taken || taken.userId !== userId) return undefined
  let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>
  try {
    verified = await verifyRegistrationResponse({
      response: credential as Parameters<typeof verifyRegistrationResponse>[0]['response'],
      expectedChallenge: taken.challenge,
      expectedOrigin: deps.party.origin,
      expectedRPID: deps.party.rpId,
      requireUserVerification: false
    })
  } catch {
    return undefined
  }
  if (!verified.verified) return undefined
  const c = verified.registrationInfo.credential
  const id = randomUUID()
  const r = await deps.pool.query<{ created_at: Date }>(
    `INSERT INTO auth.passkeys (id, user_id, credential_id, public_key, counter, transports, name) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (credential_id) DO NOTHING RETURNING created_at`,
    [id, userId, c.id, Buffer.from(c.publicKey).toString('base64url'), c.counter, c.transports ?? [], name]
  )
  const row = r.rows[0]
  return row ? { id, name, createdAt: row.created_at } : undefined
}

/**
 * Options to prove a passkey: of `userId`'s credentials (second factor, re-authentication), or of
 * any discoverable one (passkey-only sign-in, `userId` null, user verification required).
 */
export async function authenticationOptions(deps: PasskeyDeps, purpose: Exclude<ChallengePurpose, 'register'>, binding: string, userId: string | null) {
  const allow = userId ? await passkeysOf(deps.pool, userId) : []
  const options = await generateAuthenticationOptions({
    rpID: deps.party.rpId,
    allowCredentials: allow.map((p) => ({ id: p.credential_id, transports: asTransports(p.transports) })),
    userVerification: userId ? 'preferred' : 'required'
  })
  await storeChallenge(deps.pool, options.challenge, purpose, binding, userId)
  return { ...options }
}

/**
 * Verifies an assertion: the challenge was issued for this purpose and binding (and user, when it
 * named one), the credential is stored (and that user's), origin and RP id match exactly, the
 * signature verifies, and the signature counter did not go back. Returns the user it proves.
 */
export async function verifyPasskey(
  deps: PasskeyDeps,
  purpose: Exclude<ChallengePurpose, 'register'>,
  binding: string,
  credential: PasskeyAuthentication
): Promise<string | undefined> {
  const taken = await takeChallenge(deps.pool, credential.response.clientDataJSON, purpose, binding)
  if (!taken) return undefined
  const r = await deps.pool.query<StoredPasskey>('SELECT * FROM auth.passkeys WHERE credential_id = $1', [credential.id])
  const stored = r.rows[0]
  if (!stored || (taken.userId !== null && stored.user_id !== taken.userId)) return undefined
  const handle = credential.response.userHandle
  if (handle !== undefined && Buffer.from(handle, 'base64url').toString('hex') !== stored.user_id.replace(/-/g, '')) return undefined
  let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>
  try {
    verified = await verifyAuthenticationResponse({
      response: credential as Parameters<typeof verifyAuthenticationResponse>[0]['response'],
      expectedChallenge: taken.challenge,
      expectedOrigin: deps.party.origin,
      expectedRPID: deps.party.rpId,
      credential: {
        id: stored.credential_id,
        publicKey: Buffer.from(stored.public_key, 'base64url'),
        counter: Number(stored.counter),
        transports: asTransports(stored.transports)
      },
      requireUserVerification: taken.userId === null
    })
  } catch {
    return undefined
  }
  if (!verified.verified) return undefined
  await deps.pool.query('UPDATE auth.passkeys SET counter = $2, last_used_at = now() WHERE id = $1', [stored.id, verified.authenticationInfo.newCounter])
  return stored.user_id
}

export async function listPasskeys(pool: pg.Pool, userId: string): Promise<{ id: string; name: string; createdAt: string; lastUsedAt: string | null }[]> {
  const r = await pool.query<{ id: string; name: string; created_at: Date; last_used_at: Date | null }>(
    'SELECT id, name, created_at, last_used_at FROM auth.passkeys WHERE user_id = $1 ORDER BY created_at LIMIT 100',
    [userId]
  )
  return r.rows.map((p) => ({ id: p.id, name: p.name, createdAt: p.created_at.toISOString(), lastUsedAt: p.last_used_at?.toISOString() ?? null }))
}

export async function deletePasskey(pool: pg.Pool, userId: string, id: string): Promise<boolean> {
  const r = await pool.query('DELETE FROM auth.passkeys WHERE id = $1 AND user_id = $2', [id, userId])
  return r.rowCount === 1
}
