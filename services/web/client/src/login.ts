import './styles.css'
import { $ } from './dom.js'
import { ApiError, publicPost, safeNext } from './api.js'
import { checkFields, clearFieldErrors, showServerFieldErrors } from './login-fields.js'

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
  clearFieldErrors()
}

toggle.addEventListener('click', () => setMode(!registering))

const waitText = (e: ApiError): string => (e.retryAfterSeconds ? `try again in ${e.retryAfterSeconds} s` : 'try again in a minute')

function reason(e: ApiError): string {
  if (e.status === 401) return 'Wrong email or password.'
  if (e.status === 409) return 'An account with this email already exists.'
  if (e.status === 429) return `Too many attempts; ${waitText(e)}.`
  return e.message
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault()
  if (!checkFields(registering)) return
  const email = ($('#email') as HTMLInputElement).value.trim()
  const password = ($('#password') as HTMLInputElement).value
  submit.disabled = true
  error.textContent = ''
  void (async () => {
    let created = false
    try {
      if (registering) {
        await publicPost('/auth/register', { email, password, displayName: nameInput.value.trim() })
        created = true
      }
      // The answer holds an access token too: deliberately dropped, the httpOnly cookie is enough.
      await publicPost('/auth/login', { email, password })
      location.assign(safeNext(new URLSearchParams(location.search).get('next')))
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'NETWORK', 'The server could not be reached; try again.')
      submit.disabled = false
      if (created) {
        // The account exists now: registering again would only say so. Sign-in is what is left.
        setMode(false)
        ;($('#email') as HTMLInputElement).value = email
        error.textContent = `Your account was created, but signing in failed: ${e.status === 429 ? `too many attempts; ${waitText(e)}.` : reason(e)}`
      } else if (showServerFieldErrors(e.errors)) return
      else error.textContent = reason(e)
      error.focus()
    }
  })()
})

setMode(location.hash === '#register')
