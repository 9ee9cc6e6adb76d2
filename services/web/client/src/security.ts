/**
 * The account page's sign-in security: authenticator app (TOTP, enrolled with a QR code), passkeys
 * (several, named), recovery codes. Every change goes through api(), which asks for the password
 * when auth wants a recent sign-in (reauth.ts).
 */
import type { Factors, TotpEnrolment } from '@palisade/contracts'
import { $, announce, h } from './dom.js'
import { api, ApiError } from './api.js'
import { createPasskey, passkeysSupported } from './passkey.js'
import { qrCode } from './qr.js'
import { recoveryCodesBlock } from './recovery-list.js'

const root = () => $('#security')
const say = (text: string) => {
  $('#security-status').textContent = text
  announce(text)
}
const failed = (err: unknown) => say(err instanceof ApiError ? err.message : 'That did not work')

function showCodes(codes: string[]): void {
  const slot = $('#security-codes')
  slot.replaceChildren(codes.length ? recoveryCodesBlock(codes) : '')
  if (codes.length) (slot.querySelector('h4') as HTMLElement | null)?.focus()
}

async function enrolTotp(): Promise<void> {
  const e = await api<TotpEnrolment>('POST', '/auth/mfa/totp', {})
  const code = h('input', { id: 'totp-code', inputMode: 'numeric', autocomplete: 'one-time-code', maxLength: 6, pattern: '[0-9]{6}', required: true })
  const form = h(
    'form',
    { id: 'totp-enrol', class: 'totp-enrol' },
    h('p', { textContent: 'Scan this code with your authenticator app, then enter the 6-digit code it shows.' }),
    await qrCode(e.uri, 'QR code for your authenticator app'),
    h('p', {}, 'Or enter this key by hand: ', h('code', { id: 'totp-secret', textContent: e.secret })),
    h('div', { class: 'field' }, h('label', { htmlFor: 'totp-code', textContent: 'Code from the app' }), code),
    h('button', { type: 'submit', class: 'primary', textContent: 'Confirm' })
  )
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    void api<{ recoveryCodes: string[] }>('POST', '/auth/mfa/totp/confirm', { code: code.value.trim() }).then(
      async (r) => {
        await renderSecurity()
        say('Authenticator app enabled.')
        showCodes(r.recoveryCodes)
      },
      (err: unknown) => {
        failed(err)
        code.select()
      }
    )
  })
  $('#security-enrol').replaceChildren(form)
  code.focus()
}

async function addPasskey(name: string): Promise<void> {
  const { options } = await api<{ options: unknown }>('POST', '/auth/mfa/passkeys/options', {})
  const credential = await createPasskey(options)
  const r = await api<{ recoveryCodes: string[] }>('POST', '/auth/mfa/passkeys', { name, credential })
  await renderSecurity()
  say(`Passkey “${name}” added.`)
  showCodes(r.recoveryCodes)
}

/** (Re)draws the section from GET /auth/mfa. */
export async function renderSecurity(): Promise<void> {
  const f = await api<Factors>('GET', '/auth/mfa')
  const totpButton = f.totp.enabled
    ? h('button', {
        type: 'button',
        textContent: 'Remove authenticator app',
        onclick: () => void api('DELETE', '/auth/mfa/totp').then(() => renderSecurity().then(() => say('Authenticator app removed.')), failed)
      })
    : h('button', { type: 'button', textContent: 'Set up authenticator app', onclick: () => void enrolTotp().catch(failed) })
  const name = h('input', { id: 'passkey-name', maxLength: 64, required: true, value: 'My passkey', autocomplete: 'off' })
  const addForm = h(
    'form',
    { id: 'passkey-add', class: 'row' },
    h('label', { htmlFor: 'passkey-name', textContent: 'Passkey name' }),
    name,
    h('button', { type: 'submit', textContent: 'Add a passkey', disabled: !passkeysSupported() })
  )
  addForm.addEventListener('submit', (ev) => {
    ev.preventDefault()
    void addPasskey(name.value.trim() || 'Passkey').catch(failed)
  })
  const hasFactor = f.totp.enabled || f.passkeys.length > 0
  const parts: (Node | null)[] = [
    h('h3', { id: 'security-title', textContent: 'Sign-in security' }),
    f.required && !hasFactor ? h('p', { class: 'error', textContent: 'Your account must have a second factor.' }) : null,
    h('p', { id: 'totp-state', textContent: `Authenticator app: ${f.totp.enabled ? 'on' : 'off'}` }),
    totpButton,
    h('div', { id: 'security-enrol' }),
    h('h4', { textContent: 'Passkeys' }),
    h(
      'ul',
      { id: 'passkey-list' },
      ...f.passkeys.map((p) =>
        h(
          'li',
          {},
          h('span', {
            textContent: `${p.name} · added ${new Date(p.createdAt).toLocaleDateString()}${p.lastUsedAt ? ` · last used ${new Date(p.lastUsedAt).toLocaleString()}` : ''}`
          }),
          h('button', {
            type: 'button',
            textContent: 'Remove',
            attrs: { 'aria-label': `Remove passkey ${p.name}` },
            onclick: () => void api('DELETE', `/auth/mfa/passkeys/${p.id}`).then(() => renderSecurity().then(() => say('Passkey removed.')), failed)
          })
        )
      )
    ),
    addForm,
    h('h4', { textContent: 'Recovery codes' }),
    h('p', {
      id: 'recovery-left',
      textContent: hasFactor ? `${f.recoveryCodesLeft} unused recovery codes left.` : 'Recovery codes come with your first second factor.'
    }),
    hasFactor
      ? h('button', {
          type: 'button',
          textContent: 'Generate new recovery codes',
          onclick: () =>
            void api<{ recoveryCodes: string[] }>('POST', '/auth/mfa/recovery-codes', {}).then(async (r) => {
              await renderSecurity()
              say('New recovery codes generated; the old ones no longer work.')
              showCodes(r.recoveryCodes)
            }, failed)
        })
      : null,
    h('div', { id: 'security-codes' }),
    h('p', { id: 'security-status', attrs: { role: 'status' } })
  ]
  root().replaceChildren(...parts.filter((p): p is Node => p !== null))
}
