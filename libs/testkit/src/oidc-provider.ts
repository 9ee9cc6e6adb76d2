import http from 'node:http'
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Provider, { type Configuration } from 'oidc-provider'
import { OIDC_FLOW_COOKIE, OIDC_FLOW_PATH } from '@palisade/contracts'
import type { TeardownHost } from './index.js'

export const CLIENT_ID = 'palisade'
export const CLIENT_SECRET = 'a client secret long enough for the test provider'
export const WEB_ORIGIN = 'http://localhost:8080'
/** the provider id tests configure in AUTH_OIDC_PROVIDERS (it is part of the redirect URI) */
export const TEST_PROVIDER_ID = 'test'

export interface TestLogin {
  sub: string
  email?: string
  emailVerified?: boolean
  amr?: string[]
  groups?: string[]
}

/**
 * A real OpenID provider (oidc-provider 9) on a random port, with back-channel logout.
 *
 * Without `interactive`, its interaction step signs in whoever `login` names without a form (API
 * tests); with it, it shows a sign-in form (a user name from `people`) and a consent page, as a
 * browser test needs. `tamperIdToken` lets a test re-sign the ID token the token endpoint returns
 * with changed claims (with the provider's own key, so only the claim checks can refuse it).
 *
 * The oidc-provider instance is made at the first request, so a test may set `webOrigin` (where
 * redirect URIs point) and `logoutTarget` (where back-channel logout tokens are posted) once it
 * knows them, before anything talks to the provider.
 */
export interface TestProvider {
  issuer: string
  webOrigin: string
  /** base URL the provider posts logout tokens to (`<logoutTarget>/auth/oidc/backchannel-logout`); default webOrigin */
  logoutTarget: string | undefined
  login: TestLogin
  /** interactive mode: who may sign in at the form, by user name */
  people: Map<string, TestLogin>
  tamperIdToken: ((claims: Record<string, unknown>) => Record<string, unknown>) | undefined
  /** a JWT with these claims, signed with the provider's own key (logout tokens) */
  sign: (claims: Record<string, unknown>) => string
  /** what the provider-side browser holds (its session and interaction cookies) */
  jar: Map<string, string>
  /** back-channel logout deliveries the provider attempted, and their outcome */
  logouts: { ok: boolean; error?: string }[]
  /** the provider-side browser signs out at the provider (end_session, confirmed): back-channel logout follows */
  endSession(): Promise<void>
}

const b64url = (x: Buffer | string) => Buffer.from(x).toString('base64url')

function resign(idToken: string, key: KeyObject, kid: string, tamper: (c: Record<string, unknown>) => Record<string, unknown>): string {
  const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
  const head = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }))}.${b64url(JSON.stringify(tamper(claims)))}`
  return `${head}.${b64url(createSign('sha256').update(head).sign(key))}`
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`

async function formBody(req: http.IncomingMessage): Promise<URLSearchParams> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  return new URLSearchParams(text)
}

/** `emailInUserInfo`: email, name and groups only from UserInfo, as many providers do (oidc-provider's default). */
export async function startTestProvider(t: TeardownHost, opts: { emailInUserInfo?: boolean; interactive?: boolean } = {}): Promise<TestProvider> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = 'test-key'
  const accounts = new Map<string, TestLogin>()
  const state: TestProvider = {
    issuer,
    webOrigin: WEB_ORIGIN,
    logoutTarget: undefined,
    login: { sub: 'alice-sub', email: 'alice@idp.example', emailVerified: true },
    people: new Map(),
    tamperIdToken: undefined,
    jar: new Map(),
    logouts: [],
    sign: (claims) => resign(`x.${b64url('{}')}.x`, privateKey, kid, () => claims),
    async endSession() {
      const res = await fetch(`${issuer}/session/end`, { headers: { cookie: cookieHeader(state.jar) } })
      absorb(state.jar, res)
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(await res.text())?.[1]
      if (!xsrf) throw new Error(`no logout form at the provider (${res.status})`)
      const confirm = await fetch(`${issuer}/session/end/confirm`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: cookieHeader(state.jar), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf, logout: 'yes' }).toString()
      })
      absorb(state.jar, confirm)
      await confirm.arrayBuffer()
    }
  }

  function build(): Provider {
    const config: Configuration = {
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${state.webOrigin}${OIDC_FLOW_PATH}/${TEST_PROVIDER_ID}/callback`],
          backchannel_logout_uri: `${state.logoutTarget ?? state.webOrigin}/auth/oidc/backchannel-logout`,
          backchannel_logout_session_required: true
        }
      ],
      jwks: { keys: [{ ...(privateKey.export({ format: 'jwk' }) as object), kid, alg: 'RS256', use: 'sig' } as never] },
      claims: { openid: ['sub', 'amr'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
      conformIdTokenClaims: opts.emailInUserInfo === true,
      features: { devInteractions: { enabled: false }, backchannelLogout: { enabled: true } },
      pkce: { required: () => true },
      // Its own fetch refuses loopback addresses (SSRF protection) and gives up after 2.5 s; the
      // relying party of these tests is on loopback, on a loaded machine.
      fetch: (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined, signal: AbortSignal.timeout(30_000) } as RequestInit),
      async findAccount(_ctx, sub) {
        const who = accounts.get(sub)
        if (!who) return undefined
        return {
          accountId: sub,
          claims: async () => ({ sub, email: who.email, email_verified: who.emailVerified, name: `User ${sub}`, ...(who.groups ? { groups: who.groups } : {}) })
        }
      }
    }
    const provider = new Provider(issuer, config)
    provider.use(async (ctx, next) => {
      await next()
      const body = ctx.body as { id_token?: string } | undefined
      if (ctx.path === '/token' && state.tamperIdToken && body?.id_token)
        ctx.body = { ...body, id_token: resign(body.id_token, privateKey, kid, state.tamperIdToken) }
    })
    provider.on('backchannel.success', () => state.logouts.push({ ok: true }))
    provider.on('backchannel.error', (_ctx, err: Error) => state.logouts.push({ ok: false, error: err.message }))
    return provider
  }

  let provider: Provider | undefined
  let callback: ReturnType<Provider['callback']> | undefined

  async function finish(req: http.IncomingMessage, res: http.ServerResponse, who: TestLogin, clientId: string, scope: string) {
    accounts.set(who.sub, who)
    const grant = new provider!.Grant({ accountId: who.sub, clientId })
    grant.addOIDCScope(scope)
    const grantId = await grant.save()
    await provider!.interactionFinished(
      req,
      res,
      { login: { accountId: who.sub, ...(who.amr ? { amr: who.amr } : {}) }, consent: { grantId } },
      { mergeWithLastSubmission: false }
    )
  }

  async function interaction(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const details = await provider!.interactionDetails(req, res)
    const clientId = String(details.params.client_id)
    const scope = String(details.params.scope)
    if (!opts.interactive) return finish(req, res, state.login, clientId, scope)
    const action = `/interaction/${details.uid}`
    const html = (body: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(body)
    }
    if (req.method === 'POST' && req.url?.endsWith('/login')) {
      const name = (await formBody(req)).get('username') ?? ''
      const who = state.people.get(name)
      if (!who) return html(page('Sign in to Test IdP', `<p role="alert">Unknown user</p>${loginForm(action)}`))
      accounts.set(who.sub, who)
      // The login is remembered in the interaction; consent comes next, on its own page.
      return html(
        page(
          'Allow access',
          `<p>Palisade asks to know who you are (${esc(scope)}).</p><form method="post" action="${action}/consent"><input type="hidden" name="username" value="${esc(name)}"><button type="submit">Allow</button></form>`
        )
      )
    }
    if (req.method === 'POST' && req.url?.endsWith('/consent')) {
      const who = state.people.get((await formBody(req)).get('username') ?? '')
      if (!who) return html(page('Sign in to Test IdP', loginForm(action)))
      return finish(req, res, who, clientId, scope)
    }
    return html(page('Sign in to Test IdP', loginForm(action)))
  }

  server.on('request', (req, res) => {
    provider ??= build()
    callback ??= provider.callback()
    // oidc-provider has no front-channel logout: this page plays the provider's logout page, which
    // loads the relying party's frontchannel_logout_uri in an iframe with iss and sid.
    if (req.url?.startsWith('/test/frontchannel?')) {
      const sid = new URL(req.url, issuer).searchParams.get('sid') ?? ''
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      return res.end(page('Signing you out', `<iframe title="Palisade" src="${esc(frontchannelUrl(state, sid))}"></iframe>`))
    }
    if (!req.url?.startsWith('/interaction/')) return callback(req, res)
    interaction(req, res).catch((err) => {
      res.statusCode = 500
      res.end(String(err))
    })
  })
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return state
}

/** The relying party's front-channel logout URI with this provider's iss and a sid, as the provider's logout page loads it. */
export function frontchannelUrl(p: Pick<TestProvider, 'issuer' | 'webOrigin'>, sid: string): string {
  return `${p.webOrigin}${OIDC_FLOW_PATH}/frontchannel-logout?${new URLSearchParams({ iss: p.issuer, sid })}`
}

const loginForm = (action: string) =>
  `<form method="post" action="${action}/login"><label>User name <input name="username" autocomplete="username"></label><button type="submit">Sign in</button></form>`

function absorb(jar: Map<string, string>, res: Response): void {
  absorbAll(jar, res.headers.getSetCookie())
}

function absorbAll(jar: Map<string, string>, setCookies: string[]): void {
  for (const c of setCookies) {
    const [pair] = c.split(';')
    const i = pair!.indexOf('=')
    const name = pair!.slice(0, i).trim()
    const value = pair!.slice(i + 1).trim()
    if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(name)
    else jar.set(name, value)
  }
}

export const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ')

/** Follows the provider's redirects like a browser, until it sends the browser back to the web origin. */
export async function throughProvider(p: TestProvider, authorizationUrl: string): Promise<URL> {
  let url = authorizationUrl
  for (let i = 0; i < 10; i++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookieHeader(p.jar) } })
    absorb(p.jar, res)
    await res.arrayBuffer()
    const location = res.headers.get('location')
    if (!location) throw new Error(`provider answered ${res.status} at ${url}`)
    const next = new URL(location, url)
    if (next.origin === p.webOrigin) return next
    url = next.href
  }
  throw new Error('too many redirects at the provider')
}

export interface OidcAttempt {
  status: number
  location: string | null
  /** the problem's `code`, when the answer was one */
  code: string | undefined
  browser: Map<string, string>
  callback: URL
  /** the flow cookie the browser held when it came back */
  flowCookie: string | undefined
}

/**
 * One sign-in as a browser would do it: start at auth (`authUrl`), through the provider, back to
 * auth's callback. `headers` go with the callback request (e.g. those of a page navigation).
 */
export async function oidcSignIn(
  authUrl: string,
  p: TestProvider,
  opts: {
    next?: string
    editAuthorization?: (u: URL) => void
    editCallback?: (u: URL) => void
    browser?: Map<string, string>
    headers?: Record<string, string>
  } = {}
): Promise<OidcAttempt> {
  const browser = opts.browser ?? new Map<string, string>()
  const start = await fetch(`${authUrl}${OIDC_FLOW_PATH}/${TEST_PROVIDER_ID}/start?next=${encodeURIComponent(opts.next ?? '/')}`, { redirect: 'manual' })
  if (start.status !== 302) throw new Error(`start: ${start.status} ${await start.text()}`)
  palisadeCookies(start, browser)
  const authorization = new URL(start.headers.get('location')!)
  opts.editAuthorization?.(authorization)
  const callback = await throughProvider(p, authorization.href)
  opts.editCallback?.(callback)
  return oidcCallback(authUrl, callback, browser, opts.headers)
}

/**
 * The browser arriving at auth's callback with what the provider gave it (node:http, so that the
 * headers are exactly these: fetch would add its own Sec-Fetch-Mode).
 */
export async function oidcCallback(authUrl: string, callback: URL, browser: Map<string, string>, headers: Record<string, string> = {}): Promise<OidcAttempt> {
  const flowCookie = browser.get(OIDC_FLOW_COOKIE)
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`${authUrl}${callback.pathname}${callback.search}`, { headers: { ...headers, cookie: cookieHeader(browser) } }, resolve).on('error', reject)
  })
  let text = ''
  for await (const chunk of res) text += String(chunk)
  absorbAll(browser, res.headers['set-cookie'] ?? [])
  let code: string | undefined
  try {
    code = JSON.parse(text).code
  } catch {}
  return { status: res.statusCode ?? 0, location: res.headers.location ?? null, code, browser, callback, flowCookie }
}

/** Who the provider signs in next, in a fresh provider-side browser (no single sign-on from the last one). */
export function signAs(p: TestProvider, login: TestLogin): void {
  p.login = login
  p.jar.clear()
}

/** A browser on Palisade's side: the cookies auth set, by name. */
export function palisadeCookies(res: Response, jar = new Map<string, string>()): Map<string, string> {
  absorb(jar, res)
  return jar
}
