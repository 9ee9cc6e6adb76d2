/** The account panel (who I am, my sessions, password change) and signing out. */
import type { Session } from '@palisade/contracts'
import { $, h } from './dom.js'
import { api, request, ApiError } from './api.js'
import { realtime } from './connection.js'
import { clearSession } from './session-store.js'
import { activeId, getMe } from './store.js'
import { showError, showPanel } from './ui.js'

/** The sessions as the server has them now (after a revoke or a password change too). */
async function renderSessions(): Promise<void> {
  const { sessions } = await api<{ sessions: Session[] }>('GET', '/auth/sessions')
  $('#session-list').replaceChildren(
    ...sessions.map((s) =>
      h(
        'li',
        {},
        h('span', {
          textContent: `${s.current ? 'This browser' : s.userAgent.slice(0, 80) || 'unknown client'} · ${s.ip} · last used ${new Date(s.lastUsedAt).toLocaleString()}`
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
  showPanel('settings')
  $('#settings-title').focus()
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
  $('#sign-out').addEventListener('click', () => {
    realtime.stop()
    clearSession() // drafts and unsent messages stay on this device no longer than the session
    void fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}' }).finally(() =>
      location.assign('/login')
    )
  })
}
