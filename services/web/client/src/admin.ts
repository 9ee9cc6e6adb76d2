/**
 * The admin console (shown to admins only; the server refuses everyone else with 403): find users,
 * see their sessions and factors, disable/enable, promote/demote, reset factors, issue a one-time
 * password-reset link. Invites and the audit log live in admin-invites.ts and admin-audit.ts.
 */
import type { AdminUser, AdminUserDetail, PasswordResetLink, User } from '@palisade/contracts'
import { $, h } from './dom.js'
import { api, ApiError } from './api.js'
import { loadAudit, wireAudit } from './admin-audit.js'
import { loadInvites, wireInvites } from './admin-invites.js'
import { activeId } from './store.js'
import { showError, showPanel } from './ui.js'

const result = () => $('#admin-result')
const say = (text: string) => (result().textContent = text)
const failed = (err: unknown) => say(err instanceof ApiError ? err.message : 'The action failed')

async function search(): Promise<void> {
  const q = ($('#admin-q') as HTMLInputElement).value.trim()
  const { users } = await api<{ users: AdminUser[] }>('GET', `/auth/admin/users?q=${encodeURIComponent(q)}`)
  $('#admin-users').replaceChildren(
    ...users.map((u) =>
      h(
        'li',
        {},
        h('button', {
          type: 'button',
          class: 'link',
          textContent: `${u.displayName} <${u.email}>${u.roles.includes('admin') ? ' · admin' : ''}${u.disabled ? ' · disabled' : ''}`,
          attrs: { 'data-user': u.id },
          onclick: () => void openUser(u.id).catch(showError)
        })
      )
    )
  )
}

function act(label: string, run: () => Promise<string>, userId: string): HTMLButtonElement {
  return h('button', {
    type: 'button',
    textContent: label,
    onclick: () =>
      void run().then(
        (done) => openUser(userId).then(() => say(done)),
        (err: unknown) => failed(err)
      )
  })
}

async function openUser(id: string): Promise<void> {
  const { user, sessions, factors, identities } = await api<AdminUserDetail>('GET', `/auth/admin/users/${id}`)
  const isAdmin = user.roles.includes('admin')
  $('#admin-user-title').textContent = `${user.displayName} <${user.email}>`
  $('#admin-user-meta').textContent =
    `${isAdmin ? 'Admin' : 'Member'} · ${user.disabled ? 'disabled' : 'enabled'} · since ${new Date(user.createdAt).toLocaleDateString()} · id ${user.id}`
  const post = (path: string, body?: unknown) => api<unknown>('POST', `/auth/admin/users/${id}/${path}`, body)
  $('#admin-user-actions').replaceChildren(
    user.disabled
      ? act('Enable', () => post('enable').then(() => 'Enabled.'), id)
      : act('Disable', () => post('disable').then(() => 'Disabled: every session was signed out.'), id),
    isAdmin
      ? act('Make member', () => post('role', { role: 'member' }).then(() => 'Now a member.'), id)
      : act('Make admin', () => post('role', { role: 'admin' }).then(() => 'Now an admin.'), id),
    act('Reset factors', () => post('reset-factors').then((r) => `Factors reset: ${(r as { reset: string[] }).reset.join(', ') || 'none enrolled'}.`), id),
    act(
      'Password-reset link',
      () =>
        (post('password-reset') as Promise<PasswordResetLink>).then(
          (l) => `Hand this link over (valid until ${new Date(l.expiresAt).toLocaleTimeString()}, once): ${location.origin}${l.path}`
        ),
      id
    )
  )
  $('#admin-user-sessions').replaceChildren(
    ...(sessions.length
      ? sessions.map((s) => h('li', { textContent: `${s.device} · ${s.ip || 'unknown address'} · last used ${new Date(s.lastUsedAt).toLocaleString()}` }))
      : [h('li', { textContent: 'No live session.' })])
  )
  $('#admin-user-factors').replaceChildren(
    ...factors.map((f) => h('li', { textContent: `${f.name}${f.createdAt ? ` · since ${new Date(f.createdAt).toLocaleDateString()}` : ''}` })),
    ...identities.map((i) =>
      h('li', { textContent: `Sign-in provider ${i.provider}${i.email ? ` (${i.email})` : ''} · since ${new Date(i.createdAt).toLocaleDateString()}` })
    )
  )
  $('#admin-user').hidden = false
}

async function openAdmin(): Promise<void> {
  say('')
  $('#admin-user').hidden = true
  showPanel('admin')
  $('#admin-title').focus()
  await Promise.all([search(), loadInvites(), loadAudit()])
}

export function wireAdmin(me: User): void {
  if (!me.roles.includes('admin')) return
  const open = $('#open-admin')
  open.hidden = false
  $('#admin-title').tabIndex = -1
  open.addEventListener('click', () => void openAdmin().catch(showError))
  $('#close-admin').addEventListener('click', () => showPanel(activeId() ? 'conversation' : 'empty'))
  $('#admin-search').addEventListener('submit', (ev) => {
    ev.preventDefault()
    void search().catch(showError)
  })
  wireInvites()
  wireAudit()
}
