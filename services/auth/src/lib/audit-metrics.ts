import type { ServiceMetrics } from '@palisade/platform'
import type { AuditEntry } from './audit.js'

/** What a failed second factor names (the body's field) or a login succeeded through, as a bounded label. */
const MFA_METHOD: Readonly<Record<string, string>> = { totp: 'totp', code: 'totp', recovery: 'recovery', recoveryCode: 'recovery', passkey: 'passkey' }

/**
 * Counts sign-in outcomes from the audit trail, the one place every outcome is already recorded:
 * `auth_logins_total{outcome}`, `auth_mfa_total{method,outcome}` and
 * `auth_bruteforce_blocks_total{scope}` (scope: account, address or in-flight).
 */
export function auditMetrics(metrics: ServiceMetrics): (entry: AuditEntry) => void {
  const logins = metrics.counter({ name: 'auth_logins_total', help: 'Sign-in attempts by outcome', labelNames: ['outcome'] })
  const mfa = metrics.counter({ name: 'auth_mfa_total', help: 'Second-factor checks at sign-in by method and outcome', labelNames: ['method', 'outcome'] })
  const blocks = metrics.counter({ name: 'auth_bruteforce_blocks_total', help: 'Attempts refused by the brute-force limits', labelNames: ['scope'] })
  return (entry) => {
    const details = (entry.details ?? {}) as Record<string, unknown>
    switch (entry.event) {
      case 'login.succeeded': {
        logins.inc({ outcome: 'success' })
        const method = MFA_METHOD[String(details.via)]
        if (method) mfa.inc({ method, outcome: 'success' })
        return
      }
      case 'login.failed':
        return logins.inc({ outcome: 'failure' })
      case 'login.refused_disabled':
        return logins.inc({ outcome: 'disabled' })
      case 'login.password_ok':
        return logins.inc({ outcome: 'second_factor_required' })
      case 'login.throttled': {
        const scope = String(details.reason)
        blocks.inc({ scope: scope === 'account' || scope === 'address' ? scope : 'in-flight' })
        // A throttled sign-in (password or its second factor); re-authentication is not a sign-in.
        if (details.via === undefined || details.via === 'mfa') logins.inc({ outcome: 'throttled' })
        return
      }
      case 'mfa.failed':
        return mfa.inc({ method: MFA_METHOD[String(details.method)] ?? 'other', outcome: 'failure' })
    }
  }
}
