/** The account panel (who I am, my sessions, password change) and signing out. */
import type { Session } from '@palisade/contracts'
import { $, h } from './dom.js'
import { api, request, ApiError } from './api.js'
import { realtime } from './connection.js'
import { activeId, getMe } from './store.js'
import { showError, showPanel } from './ui.js'
import { renderSecurity } from './security.js'

async function openSettings(): Promise<void> {
  const me = getMe()
  $('#me-name').textContent = me?.displayName ?? ''
  $('#me-email').textContent = me?.email ?? ''
  $('#me-id').textContent = me?.id ?? ''
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
              onclick: () => void api('DELETE', `/auth/sessions/${s.id}`).then(() => openSettings(), showError)
            })
      )
    )
  )
  await renderSecurity()
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
    void request('POST', '/auth/password', { currentPassword, newPassword }).then(
      () => {
        ;($('#password-form') as HTMLFormElement).reset()
        result.textContent = 'Password changed. Your other sessions were signed out.'
      },
      (err: unknown) => (result.textContent = err instanceof ApiError ? err.message : 'The password could not be changed')
    )
  })
  $('#sign-out-everywhere').addEventListener('click', () => {
    realtime.stop()
    void request('POST', '/auth/logout-all').finally(() => location.assign('/login'))
  })
  $('#sign-out').addEventListener('click', () => {
    realtime.stop()
    void fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}' }).finally(() =>
      location.assign('/login')
    )
  })
}
