import './styles.css'
import { $ } from './dom.js'
import type { MfaChallengeResponse } from '@palisade/contracts'
import { ApiError, publicJson, publicPost, safeNext } from './api.js'
import { checkFields, clearFieldErrors, showServerFieldErrors } from './login-fields.js'
import { secondStep, signInWithPasskey } from './login-mfa.js'
import { passkeysSupported } from './passkey.js'
import { providerError, resumeProviderSignIn, showProviders } from './login-oidc.js'

/**
 * The sign-in page, which is also the register page (`#register`, or an invite link
 * `/login#invite=<token>`) and the password-reset page (`/login#reset=<token>`, a link an admin
 * issued). Tokens travel in the fragment, which the browser never sends anywhere; it is removed
 * from the address bar as soon as it is read.
 */
type Mode = 'login' | 'register' | 'reset'

const form = $('#auth-form') as HTMLFormElement
const nameRow = $('#name-row')
const emailRow = $('#email-row')
const nameInput = $('#display-name') as HTMLInputElement
const emailInput = $('#email') as HTMLInputElement
const passwordInput = $('#password') as HTMLInputElement
const title = $('#auth-title')
const submit = $('#auth-submit') as HTMLButtonElement
const toggle = $('#auth-toggle') as HTMLButtonElement
const error = $('#auth-error')
const info = $('#auth-info')
let mode: Mode = 'login'
let invite: string | undefined
let resetToken: string | undefined

const TITLES: Record<Mode, [string, string]> = {
  login: ['Sign in to Palisade', 'Sign in'],
  register: ['Create your account', 'Create account'],
  reset: ['Set a new password', 'Set password']
}

function setMode(next: Mode): void {
  mode = next
  nameRow.hidden = mode !== 'register'
  nameInput.required = mode === 'register'
  emailRow.hidden = mode === 'reset'
  emailInput.required = mode !== 'reset'
  title.textContent = TITLES[mode][0]
  submit.textContent = TITLES[mode][1]
  toggle.hidden = mode === 'reset'
  toggle.textContent = mode === 'register' ? 'I already have an account' : 'Create an account'
  $('#password-label').textContent = mode === 'reset' ? 'New password' : 'Password'
  passwordInput.autocomplete = mode === 'login' ? 'current-password' : 'new-password'
  error.textContent = ''
  clearFieldErrors()
}

toggle.addEventListener('click', () => setMode(mode === 'register' ? 'login' : 'register'))

const waitText = (e: ApiError): string => (e.retryAfterSeconds ? `try again in ${e.retryAfterSeconds} s` : 'try again in a minute')

/** What a refused request means to the person at the keyboard. */
function explain(e: ApiError): string {
  switch (e.code) {
    case 'INVALID_CREDENTIALS':
      return 'Wrong email or password.'
    case 'EMAIL_TAKEN':
      return 'An account with this email already exists.'
    case 'TOO_MANY_REQUESTS':
      return `Too many attempts; ${waitText(e)}.`
    case 'INVITE_REQUIRED':
      return 'You need an invite to create an account here. Ask an administrator for an invite link.'
    case 'INVITE_INVALID':
      return 'This invite link cannot be used: it was already used, has expired or been revoked, or is meant for another email address.'
    case 'RESET_LINK_INVALID':
      return 'This reset link cannot be used: it was already used, has expired or was replaced by a newer one. Ask an administrator for a new one.'
    default:
      // ACCOUNT_DISABLED, REGISTRATION_CLOSED, WEAK_PASSWORD and the rest carry a readable detail.
      return e.message
  }
}

function reason(e: ApiError): string {
  if (e.status === 429) return `Too many attempts; ${waitText(e)}.`
  return explain(e)
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault()
  if (!checkFields(mode)) return
  const email = emailInput.value.trim()
  const password = passwordInput.value
  submit.disabled = true
  error.textContent = ''
  info.textContent = ''
  void (async () => {
    let created = false
    try {
      if (mode === 'reset') {
        await publicPost('/auth/password-reset', { token: resetToken, newPassword: password })
        resetToken = undefined
        form.reset()
        setMode('login')
        info.textContent = 'Your password is set. Sign in with it.'
        submit.disabled = false
        return
      }
      if (mode === 'register') {
        await publicPost('/auth/register', { email, password, displayName: nameInput.value.trim(), ...(invite ? { invite } : {}) })
        created = true
      }
      // The answer holds an access token too: deliberately dropped, the httpOnly cookie is enough.
      const answer = await publicJson<Partial<MfaChallengeResponse>>('/auth/login', { email, password })
      const next = safeNext(new URLSearchParams(location.search).get('next'))
      if (answer.mfaRequired) return secondStep(answer as MfaChallengeResponse, next)
      location.assign(next)
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'NETWORK', 'The server could not be reached; try again.')
      submit.disabled = false
      if (created) {
        // The account exists now: registering again would only say so. Sign-in is what is left.
        setMode('login')
        emailInput.value = email
        error.textContent = `Your account was created, but signing in failed: ${e.status === 429 ? `too many attempts; ${waitText(e)}.` : reason(e)}`
      } else if (showServerFieldErrors(e.errors)) return
      else error.textContent = reason(e)
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

/** Reads an invite or reset link; also when one is opened while this page is already showing (no reload). */
function applyFragment(): void {
  const fragment = /^#(invite|reset)=([A-Za-z0-9_-]{43})$/.exec(location.hash)
  if (!fragment) return setMode(location.hash === '#register' ? 'register' : 'login')
  history.replaceState(null, '', location.pathname + location.search)
  info.textContent = ''
  if (fragment[1] === 'invite') {
    invite = fragment[2]
    setMode('register')
    info.textContent = 'You have been invited. Create your account.'
  } else {
    resetToken = fragment[2]
    setMode('reset')
  }
}

window.addEventListener('hashchange', applyFragment)
applyFragment()
showProviders()
resumeProviderSignIn()
const failed = providerError()
if (failed) {
  error.textContent = failed
  error.focus()
}
