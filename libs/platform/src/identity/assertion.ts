import { createHash, randomUUID, type KeyObject } from 'node:crypto'
import jwt from 'jsonwebtoken'
import { ASSERTION_MAX_TTL_SECONDS, AssertionClaimsSchema, type AppServiceName, type AssertionClaims } from '@palisade/contracts'
import { validatorFor } from '../nats/codec.js'
import type { SigningKey } from './keys.js'

export interface AssertionInput {
  issuer: string
  audience: AppServiceName
  userId: string
  sessionId: string
  roles: string[]
  ttlSeconds?: number
  /**
   * Latest `exp` allowed (epoch seconds), e.g. the access token's own: a ttl computed by the caller
   * would overshoot it by a second whenever the clock ticks between the caller's reading and this one.
   */
  notAfter?: number
}

export function signAssertion(key: SigningKey, input: AssertionInput): { token: string; claims: AssertionClaims } {
  const iat = Math.floor(Date.now() / 1000)
  const ttl = Math.min(input.ttlSeconds ?? ASSERTION_MAX_TTL_SECONDS, ASSERTION_MAX_TTL_SECONDS)
  const claims: AssertionClaims = {
    iss: input.issuer,
    aud: input.audience,
    sub: input.userId,
    sid: input.sessionId,
    jti: randomUUID(),
    iat,
    exp: Math.min(iat + ttl, input.notAfter ?? Number.POSITIVE_INFINITY),
    roles: input.roles
  }
  const token = jwt.sign(claims, key.privateKey, { algorithm: 'ES256', keyid: key.kid })
  return { token, claims }
}

export class AssertionError extends Error {
  override name = 'AssertionError'
}

export interface VerifyAssertionOptions {
  issuer: string
  audience: AppServiceName
  /** public key for a kid, or undefined when unknown */
  keyFor: (kid: string) => Promise<KeyObject | undefined>
  clockToleranceSeconds?: number
}

/**
 * Verifies an identity assertion: ES256 only (no `none`, no HMAC with a public key), a known kid,
 * our issuer, this service as audience, a lifetime within the contract's maximum, and exact claims.
 */
export async function verifyAssertion(token: string, opts: VerifyAssertionOptions): Promise<AssertionClaims> {
  if (token.length > 4096) throw new AssertionError('assertion too long')
  const decoded = jwt.decode(token, { complete: true })
  if (!decoded || typeof decoded.payload === 'string') throw new AssertionError('malformed assertion')
  if (decoded.header.alg !== 'ES256') throw new AssertionError('unexpected algorithm')
  const kid = decoded.header.kid
  if (!kid) throw new AssertionError('assertion has no kid')
  const key = await opts.keyFor(kid)
  if (!key) throw new AssertionError('unknown signing key')
  let payload: unknown
  try {
    payload = jwt.verify(token, key, {
      algorithms: ['ES256'],
      issuer: opts.issuer,
      audience: opts.audience,
      clockTolerance: opts.clockToleranceSeconds ?? 5
    })
  } catch (err) {
    throw new AssertionError((err as Error).message)
  }
  const check = validatorFor(AssertionClaimsSchema)
  if (!check.Check(payload)) throw new AssertionError('assertion claims do not match the contract')
  const claims = payload as AssertionClaims
  if (claims.exp - claims.iat > ASSERTION_MAX_TTL_SECONDS) throw new AssertionError('assertion lifetime too long')
  return claims
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}
