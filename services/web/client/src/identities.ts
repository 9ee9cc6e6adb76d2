/**
 * The account page's single sign-on identities: link one per configured provider (api() asks for
 * the password when auth wants a recent sign-in; then the browser goes to the provider), unlink
 * unless it is the last way to sign in (auth refuses that with a readable reason).
 */
import type { OidcIdentity, OidcProviderListSchema } from '@palisade/contracts'
import type { Static } from 'typebox'
import { $, announce, h } from './dom.js'
import { api, ApiError } from './api.js'

const say = (text: string) => {
  $('#identities-status').textContent = text
  announce(text)
}
const failed = (err: unknown) => say(err instanceof ApiError ? err.message : 'That did not work')

/**
 * The outcome of a link attempt, by the code auth put in `/?link=<code>` (OIDC_LOGIN_ERRORS of the
 * contracts, or `ok`); only these texts are ever shown.
 */
const LINK_OUTCOMES: Record<string, string> = {
  ok: 'Linked. You can now sign in with this provider.',
  OIDC_NOT_ALLOWED: 'That provider account is already linked to another account here.',
  OIDC_GROUP_NOT_ALLOWED: 'That provider account is not in a group allowed to sign in here.',
  TOO_MANY_REQUESTS: 'Too many attempts; try again in a minute.'
}

/** The message for a link attempt that brought the browser back here, once (the code leaves the address bar). */
export function linkOutcome(): string | undefined {
  const q = new URLSearchParams(location.search)
  const code = q.get('link')
  if (code === null) return undefined
  q.delete('link')
  const rest = q.toString()
  history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash)
  return Object.hasOwn(LINK_OUTCOMES, code) ? LINK_OUTCOMES[code] : 'Linking did not complete. Please try again.'
}

/** After openSettings: the outcome of the link attempt in the identities section's status line. */
export function showLinkOutcome(text: string): void {
  say(text)
}

export async function renderIdentities(): Promise<void> {
  const section = $('#identities')
  const list = await fetch('/auth/oidc/providers', { credentials: 'same-origin' })
  // No list (auth down, an old auth): no section, rather than an account page that fails whole.
  const { providers } = list.ok ? ((await list.json()) as Static<typeof OidcProviderListSchema>) : { providers: [] }
  section.hidden = providers.length === 0
  if (providers.length === 0) return
  const { identities } = await api<{ identities: OidcIdentity[]; hasPassword: boolean }>('GET', '/auth/identities')
  const nameOf = (id: string) => providers.find((p) => p.id === id)?.name ?? id
  section.replaceChildren(
    h('h3', { id: 'identities-title', textContent: 'Single sign-on' }),
    h(
      'ul',
      {},
      ...identities.map((i) =>
        h(
          'li',
          {},
          h('span', { textContent: `${nameOf(i.provider)}${i.email ? ` · ${i.email}` : ''}` }),
          h('button', {
            type: 'button',
            textContent: 'Unlink',
            onclick: () =>
              void api('DELETE', `/auth/identities/${i.id}`).then(() => {
                say('Unlinked.')
                return renderIdentities()
              }, failed)
          })
        )
      )
    ),
    ...providers.map((p) =>
      h('button', {
        type: 'button',
        textContent: `Link ${p.name}`,
        onclick: () => void api<{ url: string }>('POST', `/auth/identities/${encodeURIComponent(p.id)}/link`, {}).then((r) => location.assign(r.url), failed)
      })
    ),
    h('p', { id: 'identities-status', role: 'status' })
  )
}
