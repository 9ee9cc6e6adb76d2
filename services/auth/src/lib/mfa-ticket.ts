import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ErrorCode, MFA_TICKET_COOKIE, MFA_TICKET_PATH, MFA_TICKET_TTL_SECONDS } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'
import { newRefreshToken, sha256 } from './refresh-token.js'

export type TicketPurpose = 'mfa' | 'enrol'

/** The OpenID provider's session a sign-in came from (issuer, subject and its `sid`, when it sent one). */
export interface ProviderSession {
  issuer: string
  subject: string
  sid: string | undefined
}

export interface Ticket {
  id: string
  userId: string
  purpose: TicketPurpose
  /** set when the first step was a provider sign-in: the session the second step starts belongs to it */
  providerSession: ProviderSession | undefined
}

/**
 * The one login attempt between its password step and its second step: an opaque 256-bit value in
 * an httpOnly cookie, stored hashed, bound to the user the password proved, single use and dead
 * after MFA_TICKET_TTL_SECONDS. It is never a session: nothing but the second step accepts it.
 */
export async function issueTicket(pool: pg.Pool, userId: string, purpose: TicketPurpose, providerSession?: ProviderSession): Promise<string> {
  const token = newRefreshToken()
  await pool.query(
    `INSERT INTO auth.mfa_tickets (id, token_hash, user_id, purpose, oidc_issuer, oidc_subject, oidc_sid, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))`,
    [
      randomUUID(),
      sha256(token),
      userId,
      purpose,
      providerSession?.issuer ?? null,
      providerSession?.subject ?? null,
      providerSession?.sid ?? null,
      MFA_TICKET_TTL_SECONDS
    ]
  )
  // Tickets a browser abandoned go the way of expired ones.
  await pool.query("DELETE FROM auth.mfa_tickets WHERE expires_at < now() - interval '1 hour'")
  return token
}

const invalid = () => new ProblemError(401, ErrorCode.mfaTicketInvalid, 'This sign-in attempt has expired; start again with your password')

/** The live ticket of this request's cookie for `purpose`, else 401 MFA_TICKET_INVALID. */
export async function ticketOf(pool: pg.Pool, request: FastifyRequest, purpose: TicketPurpose): Promise<Ticket> {
  const token = request.cookies[MFA_TICKET_COOKIE]
  if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) throw invalid()
  const r = await pool.query<{ id: string; user_id: string; oidc_issuer: string | null; oidc_subject: string | null; oidc_sid: string | null }>(
    `SELECT id, user_id, oidc_issuer, oidc_subject, oidc_sid FROM auth.mfa_tickets
      WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()`,
    [sha256(token), purpose]
  )
  const row = r.rows[0]
  if (!row) throw invalid()
  const providerSession =
    row.oidc_issuer && row.oidc_subject ? { issuer: row.oidc_issuer, subject: row.oidc_subject, sid: row.oidc_sid ?? undefined } : undefined
  return { id: row.id, userId: row.user_id, purpose, providerSession }
}

/** Spends the ticket; throws when another request spent it first (or it just expired). */
export async function consumeTicket(pool: pg.Pool, ticket: Ticket): Promise<void> {
  const r = await pool.query('UPDATE auth.mfa_tickets SET used_at = now() WHERE id = $1 AND used_at IS NULL AND expires_at > now()', [ticket.id])
  if (r.rowCount !== 1) throw invalid()
}

export function setTicketCookie(reply: FastifyReply, token: string): void {
  reply.setCookie(MFA_TICKET_COOKIE, token, { httpOnly: true, secure: true, sameSite: 'strict', path: MFA_TICKET_PATH, maxAge: MFA_TICKET_TTL_SECONDS })
}

export function clearTicketCookie(reply: FastifyReply): void {
  reply.clearCookie(MFA_TICKET_COOKIE, { httpOnly: true, secure: true, sameSite: 'strict', path: MFA_TICKET_PATH })
}
