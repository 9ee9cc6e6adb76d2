import type pg from 'pg'
import type { LoginMfaBody, MfaMethod } from '@palisade/contracts'
import type { AuthConfig } from '../config.js'
import type { MfaKeys } from './mfa-keys.js'
import { verifyPasskey, type RelyingParty } from './passkeys.js'
import { useRecoveryCode } from './recovery-codes.js'
import { acceptTotpCode, factorSummary } from './totp.js'

/** What the second-factor features share; built once in app.ts. */
export interface MfaDeps {
  readonly pool: pg.Pool
  readonly mfaKeys: MfaKeys
  readonly party: RelyingParty
  readonly config: AuthConfig
}

/** AUTH_REQUIRE_MFA: must this account keep a second factor? */
export function mustHaveFactor(config: AuthConfig, roles: readonly string[]): boolean {
  return config.AUTH_REQUIRE_MFA === 'all' || (config.AUTH_REQUIRE_MFA === 'admins' && roles.includes('admin'))
}

export type SecondStep = { purpose: 'mfa' | 'enrol'; methods: MfaMethod[] }

/** What a login must do after a right password: prove a factor, enrol one, or nothing (undefined). */
export async function secondStepFor(deps: MfaDeps, user: { id: string; roles: string[] }): Promise<SecondStep | undefined> {
  const s = await factorSummary(deps.pool, user.id)
  const methods: MfaMethod[] = []
  if (s.totpConfirmedAt) methods.push('totp')
  if (s.passkeys > 0) methods.push('passkey')
  if (methods.length > 0 && s.recoveryLeft > 0) methods.push('recovery')
  if (methods.length > 0) return { purpose: 'mfa', methods }
  if (mustHaveFactor(deps.config, user.roles)) return { purpose: 'enrol', methods: ['totp', 'passkey'] }
  return undefined
}

/**
 * Checks one proof of `userId` (a TOTP code, a recovery code or a passkey assertion answering a
 * challenge issued for `purpose`/`binding`). Returns the method when it holds, else undefined.
 */
export async function proveFactor(
  deps: MfaDeps,
  userId: string,
  proof: LoginMfaBody,
  passkeyChallenge: { purpose: 'mfa' | 'reauth'; binding: string }
): Promise<MfaMethod | undefined> {
  if (proof.code !== undefined) return (await acceptTotpCode(deps, userId, proof.code)) ? 'totp' : undefined
  if (proof.recoveryCode !== undefined) return (await useRecoveryCode(deps, userId, proof.recoveryCode)) ? 'recovery' : undefined
  if (proof.passkey !== undefined) {
    const who = await verifyPasskey(deps, passkeyChallenge.purpose, passkeyChallenge.binding, proof.passkey)
    return who === userId ? 'passkey' : undefined
  }
  return undefined
}
