/** The audit log viewer: filter by user, action and time; says whether the hash chain verifies. */
import type { AuditPage } from '@palisade/contracts'
import { $, h } from './dom.js'
import { api, ApiError } from './api.js'

const value = (id: string) => ($(id) as HTMLInputElement).value.trim()

export async function loadAudit(): Promise<void> {
  const q = new URLSearchParams()
  const user = value('#audit-user')
  const event = value('#audit-event')
  const from = value('#audit-from')
  const to = value('#audit-to')
  if (user) q.set('userId', user)
  if (event) q.set('event', event)
  // datetime-local is the viewer's local time; the API takes ISO instants.
  if (from) q.set('from', new Date(from).toISOString())
  if (to) q.set('to', new Date(to).toISOString())
  const { entries, chain } = await api<AuditPage>('GET', `/auth/admin/audit?${q}`)
  const verdict = $('#audit-chain')
  verdict.textContent = chain.ok
    ? `Hash chain verified: ${chain.rows} entries, none altered or missing.`
    : `Hash chain BROKEN at entry ${chain.brokenAt}: ${chain.reason}. The log has been tampered with.`
  verdict.dataset.ok = String(chain.ok)
  $('#audit-list').replaceChildren(
    ...entries.map((e) => {
      const details = Object.entries(e.details)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ')
      return h('li', { textContent: `${new Date(e.at).toLocaleString()} · ${e.event} · by ${e.userId ?? '—'} · ${e.ip ?? ''} ${details}` })
    })
  )
}

export function wireAudit(): void {
  $('#audit-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    void loadAudit().catch((err: unknown) => ($('#audit-chain').textContent = err instanceof ApiError ? err.message : 'The audit log could not be read'))
  })
}
