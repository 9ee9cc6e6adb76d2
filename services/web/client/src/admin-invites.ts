/** Invites in the admin console: create (optionally for one address), list, revoke. */
import type { CreatedInvite, Invite } from '@palisade/contracts'
import { $, h } from './dom.js'
import { api, ApiError } from './api.js'
import { showError } from './ui.js'

function state(i: Invite): string {
  if (i.usedAt) return `used ${new Date(i.usedAt).toLocaleString()}`
  if (i.revokedAt) return 'revoked'
  if (Date.parse(i.expiresAt) <= Date.now()) return 'expired'
  return `open until ${new Date(i.expiresAt).toLocaleString()}`
}

export async function loadInvites(): Promise<void> {
  const { invites } = await api<{ invites: Invite[] }>('GET', '/auth/admin/invites')
  $('#invite-list').replaceChildren(
    ...invites.map((i) =>
      h(
        'li',
        {},
        h('span', { textContent: `${i.email ?? 'anyone'} · ${state(i)} ` }),
        !i.usedAt && !i.revokedAt
          ? h('button', {
              type: 'button',
              textContent: 'Revoke',
              attrs: { 'data-invite': i.id },
              onclick: () => void api('DELETE', `/auth/admin/invites/${i.id}`).then(loadInvites, showError)
            })
          : null
      )
    )
  )
}

export function wireInvites(): void {
  $('#invite-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const email = ($('#invite-email') as HTMLInputElement).value.trim()
    const out = $('#invite-result')
    void api<CreatedInvite>('POST', '/auth/admin/invites', email ? { email } : {}).then(
      (c) => {
        out.replaceChildren(
          h('span', { textContent: 'Invite link (shown once): ' }),
          h('input', { readOnly: true, value: `${location.origin}${c.path}`, attrs: { id: 'invite-link', 'aria-label': 'Invite link' } })
        )
        ;($('#invite-form') as HTMLFormElement).reset()
        return loadInvites()
      },
      (err: unknown) => (out.textContent = err instanceof ApiError ? err.message : 'The invite could not be created')
    )
  })
}
