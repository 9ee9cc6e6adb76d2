/**
 * Same-origin JSON calls with the httpOnly cookies the browser already holds: the app never sees
 * a token (the login response's accessToken is ignored on purpose). A 401 triggers one cookie
 * refresh (POST /auth/refresh, whose cookie is scoped to that path) and a retry; when that fails the
 * session is gone and the user goes to /login, coming back here afterwards.
 */
export interface FieldError {
  /** where the schema check failed, e.g. `body/password` */
  path: string
  message: string
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** the problem's field-level `errors` (400 VALIDATION_FAILED) */
    readonly errors: readonly FieldError[] = [],
    /** the answer's Retry-After in seconds (429), when it said */
    readonly retryAfterSeconds?: number
  ) {
    super(message)
  }
}

/**
 * What goToLogin throws so that its caller stops: the page is already leaving, so it is nobody's
 * error. The handlers below keep it off the console (it used to show up as uncaught, once per
 * request in flight when a revoked session was redirected).
 */
export class SignedOutError extends ApiError {}
const quiet = (ev: PromiseRejectionEvent | ErrorEvent): void => {
  if ((ev instanceof PromiseRejectionEvent ? ev.reason : ev.error) instanceof SignedOutError) ev.preventDefault()
}
if (typeof window !== 'undefined') {
  addEventListener('unhandledrejection', quiet)
  addEventListener('error', quiet)
}

let refreshing: Promise<boolean> | undefined

/** One refresh at a time, shared by every caller that hit a 401. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= fetch('/auth/refresh', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}' })
    .then((r) => r.ok)
    .catch(() => false)
    .finally(() => setTimeout(() => (refreshing = undefined), 1000))
  return refreshing
}

let leaving = false

export function goToLogin(): never {
  if (!leaving) {
    leaving = true
    const next = location.pathname + location.search + location.hash
    location.assign(`/login?next=${encodeURIComponent(next)}`)
  }
  throw new SignedOutError(401, 'UNAUTHENTICATED', 'Signed out')
}

async function problemOf(r: Response): Promise<ApiError> {
  let code = `HTTP_${r.status}`
  let detail = r.statusText || 'Request failed'
  let errors: FieldError[] = []
  try {
    const p = (await r.json()) as { code?: string; detail?: string; title?: string; errors?: unknown }
    code = p.code ?? code
    detail = p.detail ?? p.title ?? detail
    if (Array.isArray(p.errors)) errors = p.errors.filter((e): e is FieldError => typeof e?.path === 'string' && typeof e?.message === 'string').slice(0, 20)
  } catch {}
  const wait = Number(r.headers.get('retry-after'))
  return new ApiError(r.status, code, detail, errors, Number.isFinite(wait) && wait > 0 ? Math.ceil(wait) : undefined)
}

/**
 * Asks the user to confirm who they are (reauth.ts installs it): true once POST /auth/reauth
 * succeeded. A sensitive request answered 401 REAUTH_REQUIRED runs it, then is retried once.
 */
let confirmIdentity: (() => Promise<boolean>) | undefined
export function onReauthRequired(fn: () => Promise<boolean>): void {
  confirmIdentity = fn
}

async function codeOf(r: Response): Promise<string | undefined> {
  try {
    return ((await r.clone().json()) as { code?: string }).code
  } catch {
    return undefined
  }
}

export async function request(method: string, path: string, body?: unknown, retried = false, reauthed = false): Promise<Response> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } }
  if (body instanceof FormData) init.body = body
  else if (body !== undefined) {
    init.body = JSON.stringify(body)
    init.headers = { accept: 'application/json', 'content-type': 'application/json' }
  }
  const r = await fetch(path, init)
  if (r.status === 401 && (await codeOf(r)) === 'REAUTH_REQUIRED') {
    if (!reauthed && confirmIdentity && (await confirmIdentity())) return request(method, path, body, retried, true)
    throw await problemOf(r)
  }
  if (r.status === 401 && !retried) {
    if (await refreshSession()) return request(method, path, body, true, reauthed)
    goToLogin()
  }
  if (r.status === 401) goToLogin()
  if (!r.ok) throw await problemOf(r)
  return r
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const r = await request(method, path, body)
  if (r.status === 204) return undefined as T
  const text = await r.text()
  return (text ? JSON.parse(text) : undefined) as T
}

/** For the login page: no refresh, no redirect, just the outcome. */
export async function publicPost(path: string, body: unknown): Promise<void> {
  const r = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body)
  })
  if (!r.ok) throw await problemOf(r)
}

/** For the login page's later steps: the JSON answer, or an ApiError. */
export async function publicJson<T>(path: string, body: unknown): Promise<T> {
  const r = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body)
  })
  if (!r.ok) throw await problemOf(r)
  return (await r.json()) as T
}

/** Only a same-origin path may be a `next` target (no //evil.example, no /\evil, no scheme). */
export function safeNext(raw: string | null): string {
  if (!raw?.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\') || /[\u0000-\u001f\\]/.test(raw)) return '/'
  try {
    const u = new URL(raw, location.origin)
    if (u.origin !== location.origin || u.pathname === '/login') return '/'
    return u.pathname + u.search + u.hash
  } catch {
    return '/'
  }
}
