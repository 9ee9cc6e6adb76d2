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
