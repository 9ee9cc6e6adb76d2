/**
 * Step-up: when a sensitive request answers 401 REAUTH_REQUIRED, a modal dialog asks for the
 * password (or a passkey), POSTs /auth/reauth, and the request is retried (api.ts). Native
 * <dialog>: focus moves in and is trapped, Escape cancels, focus returns to where it was.
 */
import { h } from './dom.js'
import { ApiError, onReauthRequired, request } from './api.js'
import { passkeysSupported, usePasskey } from './passkey.js'

let open: Promise<boolean> | undefined

function ask(): Promise<boolean> {
  const before = document.activeElement as HTMLElement | null
  const input = h('input', { id: 'reauth-password', type: 'password', required: true, autocomplete: 'current-password', maxLength: 1024 })
  const error = h('p', { id: 'reauth-error', class: 'error', attrs: { role: 'alert' } })
  const confirm = h('button', { type: 'submit', class: 'primary', textContent: 'Confirm' })
  const cancel = h('button', { type: 'button', textContent: 'Cancel' })
  const passkey = h('button', { type: 'button', textContent: 'Use a passkey', hidden: !passkeysSupported() })
  const form = h(
    'form',
    { method: 'dialog' },
    h('div', { class: 'field' }, h('label', { htmlFor: 'reauth-password', textContent: 'Password' }), input),
    error,
    h('div', { class: 'row' }, confirm, passkey, cancel)
  )
  const dialog = h(
    'dialog',
    { id: 'reauth-dialog', class: 'dialog', attrs: { 'aria-labelledby': 'reauth-title', 'aria-describedby': 'reauth-desc' } },
    h('h2', { id: 'reauth-title', textContent: 'Confirm it’s you' }),
    h('p', { id: 'reauth-desc', textContent: 'This change needs a recent sign-in. Enter your password or use a passkey to continue.' }),
    form
  )
  document.body.append(dialog)

  return new Promise<boolean>((resolve) => {
    let done = false
    const finish = (ok: boolean) => {
      if (done) return
      done = true
      dialog.close()
      dialog.remove()
      before?.focus()
      resolve(ok)
    }
    const attempt = async (body: unknown) => {
      error.textContent = ''
      confirm.disabled = passkey.disabled = true
      try {
        await request('POST', '/auth/reauth', body, false, true)
        finish(true)
      } catch (err) {
        const e = err instanceof ApiError ? err : undefined
        error.textContent =
          e?.status === 403 ? 'That did not match. Try again.' : e?.status === 429 ? 'Too many attempts; wait a few minutes.' : 'Could not confirm.'
        input.select()
        input.focus()
      } finally {
        confirm.disabled = passkey.disabled = false
      }
    }
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      if (!input.value) {
        error.textContent = 'Enter your password.'
        input.focus()
        return
      }
      void attempt({ password: input.value })
    })
    passkey.addEventListener('click', () => {
      void (async () => {
        try {
          const { options } = (await (await request('POST', '/auth/reauth/passkey-options', {}, false, true)).json()) as { options: unknown }
          await attempt({ passkey: await usePasskey(options) })
        } catch {
          error.textContent = 'The passkey was not used.'
        }
      })()
    })
    cancel.addEventListener('click', () => finish(false))
    dialog.addEventListener('cancel', (ev) => {
      ev.preventDefault()
      finish(false)
    })
    dialog.showModal()
    input.focus()
  })
}

/** Installs the dialog as api.ts's answer to REAUTH_REQUIRED; concurrent requests share one prompt. */
export function wireReauth(): void {
  onReauthRequired(() => {
    open ??= ask().finally(() => (open = undefined))
    return open
  })
}
