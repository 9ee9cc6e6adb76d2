/**
 * The share dialog, a modal <dialog> (focus moves in, Escape closes, focus returns to the opener):
 * create a link to a file or to a read-only copy of the conversation as it is now, with an expiry
 * (default 7 days, at most 90) and an optional limit on openings; the link is shown once, with a
 * copy button. "My links" lists the caller's links with their state and a Revoke button.
 * Loaded on first use (share-action.ts imports it dynamically) to keep it off the first load.
 */
import { api, ApiError } from './api.js'
import { h } from './dom.js'
import type { SharePolicy, ShareTarget } from './share-action.js'
import { fullTime } from './times.js'

/** mirrors SHARE_LINK_DEFAULT_DAYS and SHARE_LINK_MAX_DAYS in contracts/shares.ts */
const DEFAULT_DAYS = 7
const MAX_DAYS = 90

/** contracts ShareLinkSchema */
interface ShareLink {
  id: string
  kind: 'file' | 'conversation'
  fileId: string | null
  conversationId: string | null
  createdAt: string
  expiresAt: string
  maxUses: number | null
  uses: number
  revokedAt: string | null
}

const WHO: Record<Exclude<SharePolicy, 'off'>, string> = {
  'signed-in': 'Anyone with the link and a Palisade account can open it.',
  public: 'Anyone with the link can open it, without an account.'
}

function linkState(l: ShareLink): string {
  if (l.revokedAt) return 'revoked'
  if (Date.parse(l.expiresAt) <= Date.now()) return 'expired'
  if (l.maxUses !== null && l.uses >= l.maxUses) return 'used up'
  return 'active'
}

function linkLabel(l: ShareLink, names: ReadonlyMap<string, string>): string {
  const what = l.kind === 'file' ? `File ${names.get(l.fileId ?? '') ?? ''}` : `Conversation ${names.get(l.conversationId ?? '') ?? ''}`
  const uses = l.maxUses === null ? `opened ${l.uses} times` : `opened ${l.uses} of ${l.maxUses} times`
  return `${what.trim()} · until ${fullTime(l.expiresAt)} · ${uses} · ${linkState(l)}`
}

export function shareDialog(target: ShareTarget, policy: Exclude<SharePolicy, 'off'>, opener: HTMLElement): void {
  const targetId = target.kind === 'file' ? target.fileId : target.conversationId
  // What this page can name: the thing being shared (other links are named by their kind only).
  const names = new Map([[targetId, `“${target.name}”`]])
  const days = h('input', { id: 'share-days', type: 'number', min: '1', max: String(MAX_DAYS), step: '1', value: String(DEFAULT_DAYS), required: true })
  const uses = h('input', { id: 'share-uses', type: 'number', min: '1', step: '1', attrs: { 'aria-describedby': 'share-uses-hint' } })
  const error = h('p', { class: 'error', attrs: { role: 'alert' } })
  const create = h('button', { type: 'submit', class: 'primary', textContent: 'Create link' })
  const close = h('button', { type: 'button', textContent: 'Close' })
  const result = h('div', { class: 'share-result', hidden: true })
  const list = h('ul', { class: 'share-links', attrs: { 'aria-labelledby': 'share-links-title' } })
  const form = h(
    'form',
    { noValidate: true },
    h('p', {
      textContent: `${target.kind === 'file' ? 'A download of this file.' : 'A read-only copy of this conversation as it is now: later messages are not in it.'} ${WHO[policy]}`
    }),
    h('div', { class: 'field' }, h('label', { htmlFor: days.id, textContent: `Expires after (days, at most ${MAX_DAYS})` }), days),
    h(
      'div',
      { class: 'field' },
      h('label', { htmlFor: uses.id, textContent: 'Most openings (optional)' }),
      uses,
      h('small', { id: 'share-uses-hint', textContent: 'Leave empty to allow any number until it expires.' })
    ),
    error,
    h('div', { class: 'row' }, create, close)
  )
  const dialog = h(
    'dialog',
    { class: 'dialog share-dialog', attrs: { 'aria-labelledby': 'share-title' } },
    h('h2', { id: 'share-title', textContent: `Share “${target.name}”` }),
    form,
    result,
    h('h3', { id: 'share-links-title', textContent: 'My links' }),
    list
  )
  document.body.append(dialog)

  const done = () => {
    dialog.close()
    dialog.remove()
    opener.focus()
  }

  async function refresh(): Promise<void> {
    let links: ShareLink[]
    try {
      links = (await api<{ links: ShareLink[] }>('GET', '/api/files/shares?limit=50')).links
    } catch {
      list.replaceChildren(h('li', { textContent: 'Your links could not be loaded.' }))
      return
    }
    if (links.length === 0) return void list.replaceChildren(h('li', { textContent: 'You have no share links.' }))
    list.replaceChildren(
      ...links.map((l) => {
        const label = linkLabel(l, names)
        const revoke =
          linkState(l) === 'active'
            ? h('button', {
                type: 'button',
                textContent: 'Revoke',
                attrs: { 'aria-label': `Revoke link: ${label}` },
                onclick: () =>
                  void api('DELETE', `/api/files/shares/${l.id}`)
                    .then(refresh)
                    .catch((err: unknown) => (error.textContent = err instanceof ApiError ? err.message : 'Could not revoke the link.'))
              })
            : null
        const li = h('li', { class: `share-link ${linkState(l).replace(' ', '-')}` }, h('span', { textContent: label }), revoke)
        li.dataset.id = l.id
        return li
      })
    )
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    error.textContent = ''
    const d = Number(days.value)
    const u = uses.value.trim() === '' ? undefined : Number(uses.value)
    if (!Number.isInteger(d) || d < 1 || d > MAX_DAYS) {
      error.textContent = `Choose from 1 to ${MAX_DAYS} days.`
      return days.focus()
    }
    if (u !== undefined && (!Number.isInteger(u) || u < 1)) {
      error.textContent = 'The most openings is a whole number from 1, or empty.'
      return uses.focus()
    }
    const body = {
      ...(target.kind === 'file' ? { fileId: target.fileId } : { conversationId: target.conversationId }),
      expiresInDays: d,
      ...(u !== undefined ? { maxUses: u } : {})
    }
    create.disabled = true
    void api<{ link: ShareLink; path: string }>('POST', '/api/files/shares', body)
      .then((created) => {
        const url = h('input', { id: 'share-url', readOnly: true, value: `${location.origin}${created.path}`, attrs: { 'aria-describedby': 'share-once' } })
        const copy = h('button', { type: 'button', textContent: 'Copy link' })
        copy.addEventListener('click', () => {
          void navigator.clipboard.writeText(url.value).then(
            () => (copy.textContent = 'Copied'),
            () => {
              // No clipboard permission: the link is selected for copying by hand.
              url.select()
              copy.textContent = 'Copy failed: press Ctrl+C'
            }
          )
        })
        result.replaceChildren(
          h('label', { htmlFor: url.id, textContent: 'Link' }),
          h('div', { class: 'row' }, url, copy),
          h('p', { id: 'share-once', textContent: 'Copy it now: it is shown only this once. Revoke it below at any time.' })
        )
        result.hidden = false
        url.focus()
        url.select()
        return refresh()
      })
      .catch((err: unknown) => (error.textContent = err instanceof ApiError ? err.message : 'Could not create the link.'))
      .finally(() => (create.disabled = false))
  })
  close.addEventListener('click', done)
  dialog.addEventListener('cancel', (ev) => {
    ev.preventDefault()
    done()
  })
  dialog.showModal()
  days.focus()
  void refresh()
}
