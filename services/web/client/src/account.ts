/** The account panel (who I am, my sessions, password change) and signing out. */
import type { Session } from '@palisade/contracts'
import { $, h } from './dom.js'
import { api, request, ApiError } from './api.js'
import { realtime } from './connection.js'
import { clearSession } from './session-store.js'
import { activeId, getMe } from './store.js'
import { showError, showPanel } from './ui.js'
import { renderSecurity } from './security.js'
import { renderTokens } from './tokens.js'
import { linkOutcome, renderIdentities, showLinkOutcome } from './identities.js'

/** The sessions as the server has them now (after a revoke or a password change too). */
async function renderSessions(): Promise<void> {
  const { sessions } = await api<{ sessions: Session[] }>('GET', '/auth/sessions')
  $('#session-list').replaceChildren(
    ...sessions.map((s) =>
      h(
        'li',
        {},
        s.current ? h('strong', { textContent: 'This device · ' }) : null,
        h('span', {
          textContent: `${s.device} · ${s.ip || 'unknown address'} · last used ${new Date(s.lastUsedAt).toLocaleString()}`,
          title: s.userAgent
        }),
        s.current
          ? null
          : h('button', {
              type: 'button',
              textContent: 'Revoke',
              attrs: { 'data-session': s.id },
              onclick: () => void api('DELETE', `/auth/sessions/${s.id}`).then(() => renderSessions(), showError)
            })
      )
    )
  )
}

async function openSettings(): Promise<void> {
  const me = getMe()
  $('#me-name').textContent = me?.displayName ?? ''
  $('#me-email').textContent = me?.email ?? ''
  $('#me-id').textContent = me?.id ?? ''
  $('#pw-result').textContent = ''
  await renderSessions()
  await Promise.all([renderSecurity(), renderIdentities(), renderTokens()])
  showPanel('settings')
  $('#settings-title').focus()
}

/** Back from linking a provider (`/?link=<outcome>`): the account page, with what happened. */
export async function showLinkResult(): Promise<void> {
  const outcome = linkOutcome()
  if (!outcome) return
  await openSettings()
  showLinkOutcome(outcome)
}

/** Leaves for /login once the server has forgotten this session; local drafts and outbox go too. */
function signOutTo(path: string, signOut: () => Promise<unknown>): void {
  realtime.stop()
  clearSession() // drafts and unsent messages stay on this device no longer than the session
  void signOut().finally(() => location.assign(path))
}

export function wireAccount(): void {
  $('#settings-title').tabIndex = -1
  $('#open-settings').addEventListener('click', () => void openSettings().catch(showError))
  $('#close-settings').addEventListener('click', () => showPanel(activeId() ? 'conversation' : 'empty'))
  $('#password-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const currentPassword = ($('#pw-current') as HTMLInputElement).value
    const newPassword = ($('#pw-new') as HTMLInputElement).value
    const result = $('#pw-result')
    result.textContent = '' // an earlier outcome must not stand beside this one
    void request('POST', '/auth/password', { currentPassword, newPassword }).then(
      () => {
        ;($('#password-form') as HTMLFormElement).reset()
        result.textContent = 'Password changed. Your other sessions were signed out.'
        void renderSessions().catch(showError)
      },
      (err: unknown) => (result.textContent = err instanceof ApiError ? err.message : 'The password could not be changed')
    )
  })
  $('#sign-out-everywhere').addEventListener('click', () => signOutTo('/login', () => request('POST', '/auth/logout-all')))
  $('#sign-out').addEventListener('click', () =>
    signOutTo('/login', () =>
      fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}' })
    )
  )
}
