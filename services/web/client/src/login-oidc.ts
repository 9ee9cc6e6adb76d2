/**
 * Single sign-on on the login page: a "Sign in with …" link per provider ops configured (a plain
 * navigation: auth answers with the provider's URL and sets the flow cookie), and the second step
 * when auth sends a provider sign-in back here for Palisade's own factor (`?second=mfa|enrol`).
 */
import type { MfaMethod, OidcProviderListSchema } from '@palisade/contracts'

/** MFA_TICKET_TTL_SECONDS of the contracts (a value import would pull every schema into the bundle). */
const MFA_TICKET_TTL_SECONDS = 300
import type { Static } from 'typebox'
import { $, h } from './dom.js'
import { safeNext } from './api.js'
import { secondStep } from './login-mfa.js'

const METHODS = new Set<MfaMethod>(['totp', 'passkey', 'recovery'])

/**
 * Why a provider sign-in came back to this page (`/login?error=<code>`), by code: the codes of
 * OIDC_LOGIN_ERRORS in the contracts (a value import would pull every schema into the bundle).
 * Only these texts are ever shown; anything else in the URL is ignored.
 */
const PROVIDER_ERRORS: Record<string, string> = {
  OIDC_FAILED: 'The sign-in with your provider did not complete. Please try again.',
  OIDC_EMAIL_COLLISION: 'An account with your email address already exists here. Sign in with your password, then link the provider from your account page.',
  OIDC_NOT_ALLOWED:
    'Your provider account cannot be used here: its email address is not verified or not from an allowed domain, or it is linked to another account.',
  OIDC_GROUP_NOT_ALLOWED: 'Your provider account is not in a group allowed to sign in here. Ask your administrator for access.',
  INVITE_REQUIRED: 'You need an invite to create an account here. Ask an administrator for an invite link.',
  REGISTRATION_CLOSED: 'New accounts cannot be created here. Ask an administrator.',
  ACCOUNT_DISABLED: 'This account is disabled. Ask an administrator.',
  TOO_MANY_REQUESTS: 'Too many sign-in attempts; try again in a minute.'
}

/** The message for `?error=` of a provider sign-in that failed, once; the code leaves the address bar. */
export function providerError(): string | undefined {
  const q = new URLSearchParams(location.search)
  const code = q.get('error')
  if (code === null) return undefined
  q.delete('error')
  const rest = q.toString()
  history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash)
  return Object.hasOwn(PROVIDER_ERRORS, code) ? PROVIDER_ERRORS[code] : undefined
}

export function showProviders(): void {
  void fetch('/auth/oidc/providers', { credentials: 'same-origin' })
    .then(async (r) => (r.ok ? ((await r.json()) as Static<typeof OidcProviderListSchema>) : { providers: [] }))
    .then(({ providers }) => {
      const next = safeNext(new URLSearchParams(location.search).get('next'))
      $('#oidc-providers').replaceChildren(
        ...providers.map((p) =>
          h('a', {
            class: 'button',
            href: `/auth/oidc/${encodeURIComponent(p.id)}/start?next=${encodeURIComponent(next)}`,
            textContent: `Sign in with ${p.name}`
          })
        )
      )
    })
    .catch(() => undefined) // no list, no buttons: the password form still works
}

export function resumeProviderSignIn(): void {
  const q = new URLSearchParams(location.search)
  const second = q.get('second')
  if (second !== 'mfa' && second !== 'enrol') return
  const methods = (q.get('methods') ?? '').split(',').filter((m): m is MfaMethod => METHODS.has(m as MfaMethod))
  secondStep({ mfaRequired: true, enrolmentRequired: second === 'enrol', methods, expiresIn: MFA_TICKET_TTL_SECONDS }, safeNext(q.get('next')))
}
