/**
 * The login form's fields: what the browser can check itself (before any request) and the server's
 * field-level reasons (a problem's `errors`), each shown under its own field and tied to it with
 * aria-describedby and aria-invalid.
 */
import { $ } from './dom.js'
import type { FieldError } from './api.js'

export type Field = 'displayName' | 'email' | 'password'

/** PASSWORD_MIN_LENGTH of the contracts (a value import would pull the schemas into the bundle). */
const PASSWORD_MIN_LENGTH = 12
const LABELS: Record<Field, string> = { displayName: 'Display name', email: 'Email', password: 'Password' }
const IDS: Record<Field, string> = { displayName: 'display-name', email: 'email', password: 'password' }

const input = (f: Field): HTMLInputElement => $(`#${IDS[f]}`) as HTMLInputElement
const errorOf = (f: Field): HTMLElement => $(`#${IDS[f]}-error`)

export function clearFieldErrors(): void {
  for (const f of Object.keys(IDS) as Field[]) {
    errorOf(f).textContent = ''
    input(f).removeAttribute('aria-invalid')
  }
}

export function showFieldError(f: Field, message: string): void {
  errorOf(f).textContent = message
  input(f).setAttribute('aria-invalid', 'true')
}

/** What the server would refuse, found without asking it; the first field in error gets focus. */
export function checkFields(mode: 'login' | 'register' | 'reset'): boolean {
  const registering = mode === 'register'
  const newPassword = mode !== 'login'
  clearFieldErrors()
  const wrong: Field[] = []
  const fail = (f: Field, message: string): void => {
    showFieldError(f, message)
    wrong.push(f)
  }
  if (registering) {
    const name = input('displayName').value.trim()
    if (!name) fail('displayName', 'Enter the name other people will see.')
    else if (/[\u0000-\u001f\u007f]/.test(name)) fail('displayName', 'The name cannot contain control characters.')
  }
  const email = input('email')
  if (mode === 'reset') {
    // a reset link names its account; there is no email field to check
  } else if (!email.value.trim()) fail('email', 'Enter your email address.')
  else if (email.validity.typeMismatch) fail('email', 'That is not a valid email address.')
  const password = input('password').value
  if (!password) fail('password', 'Enter your password.')
  else if (newPassword && password.length < PASSWORD_MIN_LENGTH) fail('password', `Use at least ${PASSWORD_MIN_LENGTH} characters.`)
  if (wrong[0]) input(wrong[0]).focus()
  return wrong.length === 0
}

/** The server's reasons (`body/password` …) under their fields; returns whether any had a field. */
export function showServerFieldErrors(errors: readonly FieldError[]): boolean {
  let first: Field | undefined
  for (const e of errors) {
    const last = e.path.split('/').pop()
    const f = (last === 'newPassword' ? 'password' : last) as Field
    if (!(f in IDS)) continue
    showFieldError(f, `${LABELS[f]} ${e.message}`)
    first ??= f
  }
  if (first) input(first).focus()
  return first !== undefined
}
