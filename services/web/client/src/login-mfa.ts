/**
 * The login page after a right password, when auth answered `{ mfaRequired }`: prove a second
 * factor (code, recovery code or passkey), or — when the policy wants one and there is none —
 * enrol one first. The attempt lives in auth's httpOnly ticket cookie; nothing here holds a secret
 * beyond the page.
 */
import type { EnrolledLoginResponse, MfaChallengeResponse, TotpEnrolment } from '@palisade/contracts'
import { $, h } from './dom.js'
import { ApiError, publicJson } from './api.js'
import { createPasskey, passkeysSupported, usePasskey } from './passkey.js'
import { qrCode } from './qr.js'
import { recoveryCodesBlock } from './recovery-list.js'

function message(err: unknown): string {
  if (!(err instanceof ApiError)) return 'The passkey was not used.'
  if (err.code === 'MFA_TICKET_INVALID') return 'This sign-in attempt expired. Reload the page and start again.'
  if (err.status === 429) return 'Too many attempts; wait a few minutes.'
  if (err.status === 401 || err.status === 400) return 'That code is not valid.'
  return err.message
}

/** Replaces the card's content with `title` and `children`, focusing the heading for screen readers. */
function screen(title: string, ...children: (Node | null)[]): { error: HTMLElement } {
  const heading = h('h1', { id: 'auth-title', tabIndex: -1, textContent: title })
  const error = h('p', { id: 'auth-error', class: 'error', tabIndex: -1, attrs: { role: 'alert' } })
  $('.auth-card').replaceChildren(heading, ...children.filter((c): c is Node => c !== null), error)
  heading.focus()
  return { error }
}

function codeForm(id: string, label: string, recovery: boolean, submit: (value: string) => Promise<void>, fail: (e: unknown) => void): HTMLFormElement {
  const input = h('input', {
    id,
    required: true,
    autocomplete: recovery ? 'off' : 'one-time-code',
    ...(recovery ? { maxLength: 20 } : { inputMode: 'numeric', maxLength: 6, pattern: '[0-9]{6}' })
  })
  const button = h('button', { type: 'submit', class: 'primary', textContent: 'Verify' })
  const form = h('form', { novalidate: true }, h('div', { class: 'field' }, h('label', { htmlFor: id, textContent: label }), input), button)
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    button.disabled = true
    submit(input.value.trim()).catch((e: unknown) => {
      fail(e)
      button.disabled = false
      input.select()
    })
  })
  return form
}

/** After the second step: the codes (when new ones were made) must be acknowledged before leaving. */
function done(next: string, codes: string[] = []): void {
  if (codes.length === 0) return void location.assign(next)
  const go = h('button', { type: 'button', class: 'primary', textContent: 'I have saved my recovery codes', onclick: () => location.assign(next) })
  screen('Save your recovery codes', recoveryCodesBlock(codes), go)
}

function proveFactor(c: MfaChallengeResponse, next: string): void {
  let recovery = false
  const render = () => {
    const slot = h('div')
    const { error } = screen(
      'Two-step verification',
      h('p', { textContent: recovery ? 'Enter one of your recovery codes.' : 'Enter the 6-digit code from your authenticator app.' }),
      slot
    )
    const fail = (e: unknown) => {
      error.textContent = message(e)
      error.focus()
    }
    const proof = (value: string) => (recovery ? { recoveryCode: value } : { code: value })
    if (c.methods.includes(recovery ? 'recovery' : 'totp')) {
      slot.append(
        codeForm(
          recovery ? 'recovery-code' : 'otp-code',
          recovery ? 'Recovery code' : 'Authentication code',
          recovery,
          async (v) => {
            await publicJson('/auth/login/mfa', proof(v))
            done(next)
          },
          fail
        )
      )
    }
    if (c.methods.includes('passkey') && passkeysSupported()) {
      slot.append(
        h('button', {
          type: 'button',
          textContent: 'Use a passkey',
          onclick: () =>
            void (async () => {
              const { options } = await publicJson<{ options: unknown }>('/auth/login/mfa/passkey-options', {})
              await publicJson('/auth/login/mfa', { passkey: await usePasskey(options) })
              done(next)
            })().catch(fail)
        })
      )
    }
    if (c.methods.includes('recovery')) {
      slot.append(
        h('button', {
          type: 'button',
          class: 'link',
          textContent: recovery ? 'Use my authenticator app' : 'Use a recovery code',
          onclick: () => {
            recovery = !recovery
            render()
          }
        })
      )
    }
  }
  render()
}

function enrol(next: string): void {
  const { error } = screen(
    'Set up two-step verification',
    h('p', { textContent: 'Your account must have a second factor before you continue.' }),
    h('button', { type: 'button', class: 'primary', textContent: 'Use an authenticator app', onclick: () => void enrolApp().catch(fail) }),
    passkeysSupported() ? h('button', { type: 'button', textContent: 'Use a passkey', onclick: () => void enrolPasskey().catch(fail) }) : null
  )
  function fail(e: unknown): void {
    error.textContent = message(e)
    error.focus()
  }
  async function enrolApp(): Promise<void> {
    const e = await publicJson<TotpEnrolment>('/auth/login/enrol/totp', {})
    const s = screen(
      'Set up your authenticator app',
      h('p', { textContent: 'Scan this code with your authenticator app, then enter the 6-digit code it shows.' }),
      await qrCode(e.uri, 'QR code for your authenticator app'),
      h('p', {}, 'Or enter this key by hand: ', h('code', { id: 'totp-secret', textContent: e.secret })),
      codeForm(
        'otp-code',
        'Code from the app',
        false,
        async (code) => {
          const r = await publicJson<EnrolledLoginResponse>('/auth/login/enrol/totp/confirm', { code })
          done(next, r.recoveryCodes)
        },
        (err) => {
          s.error.textContent = message(err)
          s.error.focus()
        }
      )
    )
  }
  async function enrolPasskey(): Promise<void> {
    const { options } = await publicJson<{ options: unknown }>('/auth/login/enrol/passkey-options', {})
    const r = await publicJson<EnrolledLoginResponse>('/auth/login/enrol/passkey', { name: 'Passkey', credential: await createPasskey(options) })
    done(next, r.recoveryCodes)
  }
}

export function secondStep(c: MfaChallengeResponse, next: string): void {
  if (c.enrolmentRequired) enrol(next)
  else proveFactor(c, next)
}

/** Passkey-only sign-in: a discoverable credential stands for both factors. */
export async function signInWithPasskey(next: string): Promise<void> {
  const { options } = await publicJson<{ options: unknown }>('/auth/login/passkey/options', {})
  await publicJson('/auth/login/passkey', { credential: await usePasskey(options) })
  location.assign(next)
}
