import './styles.css'
import { $ } from './dom.js'
import type { MfaChallengeResponse } from '@palisade/contracts'
import { publicJson, publicPost, safeNext, type ApiError } from './api.js'
import { secondStep, signInWithPasskey } from './login-mfa.js'
import { passkeysSupported } from './passkey.js'

const form = $('#auth-form') as HTMLFormElement
const nameRow = $('#name-row')
const nameInput = $('#display-name') as HTMLInputElement
const title = $('#auth-title')
const submit = $('#auth-submit') as HTMLButtonElement
const toggle = $('#auth-toggle') as HTMLButtonElement
const error = $('#auth-error')
let registering = false

function setMode(register: boolean): void {
  registering = register
  nameRow.hidden = !register
  nameInput.required = register
  title.textContent = register ? 'Create your account' : 'Sign in to Palisade'
  submit.textContent = register ? 'Create account' : 'Sign in'
  toggle.textContent = register ? 'I already have an account' : 'Create an account'
  ;($('#password') as HTMLInputElement).autocomplete = register ? 'new-password' : 'current-password'
  error.textContent = ''
}

toggle.addEventListener('click', () => setMode(!registering))

form.addEventListener('submit', (ev) => {
  ev.preventDefault()
  const email = ($('#email') as HTMLInputElement).value.trim()
  const password = ($('#password') as HTMLInputElement).value
  submit.disabled = true
  error.textContent = ''
  void (async () => {
    try {
      if (registering) await publicPost('/auth/register', { email, password, displayName: nameInput.value.trim() })
      // The answer holds an access token too: deliberately dropped, the httpOnly cookie is enough.
      const answer = await publicJson<Partial<MfaChallengeResponse>>('/auth/login', { email, password })
      const next = safeNext(new URLSearchParams(location.search).get('next'))
      if (answer.mfaRequired) return secondStep(answer as MfaChallengeResponse, next)
      location.assign(next)
    } catch (err) {
      const e = err as ApiError
      error.textContent =
        e.status === 401
          ? 'Wrong email or password.'
          : e.status === 409
            ? 'An account with this email already exists.'
            : e.status === 429
              ? 'Too many attempts; wait a minute.'
              : e.message
      submit.disabled = false
      error.focus()
    }
  })()
})

const passkeyButton = $('#passkey-sign-in') as HTMLButtonElement
passkeyButton.hidden = !passkeysSupported()
passkeyButton.addEventListener('click', () => {
  error.textContent = ''
  signInWithPasskey(safeNext(new URLSearchParams(location.search).get('next'))).catch(() => {
    error.textContent = 'No passkey signed you in.'
    error.focus()
  })
})

setMode(location.hash === '#register')
