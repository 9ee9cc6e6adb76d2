/**
 * The account page's personal access tokens: create one (name, scopes, days; api() asks for the
 * password when auth wants a recent sign-in), see it once, list the rest with their last four
 * characters and last use, revoke. The token itself is only ever put in a read-only text field.
 */
import type { CreatedToken, PersonalToken, TokenList, TokenScope } from '@palisade/contracts'

/** PERSONAL_TOKEN_MAX_DAYS of the contracts (a value import would pull every schema into the bundle). */
const PERSONAL_TOKEN_MAX_DAYS = 365
import { $, announce, h } from './dom.js'
import { api, ApiError } from './api.js'

const SCOPES: { scope: TokenScope; label: string }[] = [
  { scope: 'read', label: 'read conversations' },
  { scope: 'write', label: 'send and change messages' },
  { scope: 'files', label: 'files' },
  { scope: 'agents', label: 'agents' },
  // The client does not know the roles: auth refuses `admin` (403) for anyone but an admin.
  { scope: 'admin', label: 'admin (administrators only)' }
]

const say = (text: string) => {
  $('#tokens-status').textContent = text
  announce(text)
}
const failed = (err: unknown) => say(err instanceof ApiError ? err.message : 'That did not work')

function describe(t: PersonalToken): string {
  const used = t.lastUsedAt ? `last used ${new Date(t.lastUsedAt).toLocaleString()}` : 'never used'
  return `${t.name} · …${t.last4} · ${t.scopes.join(', ')} · expires ${new Date(t.expiresAt).toLocaleDateString()} · ${used}`
}

function showOnce(created: CreatedToken): void {
  const field = h('input', { id: 'token-value', readOnly: true, value: created.token, size: 60, autocomplete: 'off', spellcheck: false })
  $('#token-created').replaceChildren(
    h('h4', { tabIndex: -1, textContent: `Token “${created.info.name}” created` }),
    h('p', { textContent: 'Copy it now: it is shown only this once. Send it as “Authorization: Bearer …”.' }),
    h('label', { htmlFor: 'token-value', textContent: 'New token' }),
    field
  )
  field.focus()
  field.select()
}

function createForm(): HTMLFormElement {
  const name = h('input', { id: 'token-name', maxLength: 64, required: true, autocomplete: 'off' })
  const days = h('input', { id: 'token-days', type: 'number', min: '1', max: String(PERSONAL_TOKEN_MAX_DAYS), value: '30', required: true })
  const boxes = SCOPES.map((s) => ({
    scope: s.scope,
    box: h('input', { type: 'checkbox', id: `token-scope-${s.scope}`, checked: s.scope === 'read' })
  }))
  const form = h(
    'form',
    { id: 'token-create' },
    h('div', { class: 'field' }, h('label', { htmlFor: 'token-name', textContent: 'Token name' }), name),
    h(
      'fieldset',
      {},
      h('legend', { textContent: 'Scopes' }),
      ...boxes.map(({ scope, box }) => h('label', { htmlFor: box.id }, box, ` ${SCOPES.find((s) => s.scope === scope)!.label}`))
    ),
    h('div', { class: 'field' }, h('label', { htmlFor: 'token-days', textContent: 'Valid for (days)' }), days),
    h('button', { type: 'submit', textContent: 'Create token' })
  )
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const scopes = boxes.filter((b) => b.box.checked).map((b) => b.scope)
    if (scopes.length === 0) return say('Pick at least one scope.')
    void api<CreatedToken>('POST', '/auth/tokens', { name: name.value.trim(), scopes, expiresInDays: Number(days.value) }).then(async (created) => {
      await renderTokens()
      showOnce(created)
    }, failed)
  })
  return form
}

/** (Re)draws the section from GET /auth/tokens. */
export async function renderTokens(): Promise<void> {
  const { tokens } = await api<TokenList>('GET', '/auth/tokens')
  $('#tokens').replaceChildren(
    h('h3', { id: 'tokens-title', textContent: 'Personal access tokens' }),
    h('p', { textContent: 'For scripts and bots. A token acts as you within its scopes until it expires or you revoke it.' }),
    h(
      'ul',
      { id: 'token-list' },
      ...tokens.map((t) =>
        h(
          'li',
          {},
          h('span', { textContent: describe(t) }),
          h('button', {
            type: 'button',
            textContent: 'Revoke',
            attrs: { 'aria-label': `Revoke token ${t.name}` },
            onclick: () => void api('DELETE', `/auth/tokens/${t.id}`).then(() => renderTokens().then(() => say(`Token “${t.name}” revoked.`)), failed)
          })
        )
      )
    ),
    createForm(),
    h('div', { id: 'token-created' }),
    h('p', { id: 'tokens-status', attrs: { role: 'status' } })
  )
}
