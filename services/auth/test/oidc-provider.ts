import http from 'node:http'
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'
import type { TeardownHost } from '@palisade/testkit'

export const CLIENT_ID = 'palisade'
export const CLIENT_SECRET = 'a client secret long enough for the test provider'
export const WEB_ORIGIN = 'http://localhost:8080'

export interface TestLogin {
  sub: string
  email?: string
  emailVerified?: boolean
  amr?: string[]
}

/**
 * A real OpenID provider (oidc-provider) on a random port. Its interaction step signs in whoever
 * `login` names without a form; `tamperIdToken` lets a test re-sign the ID token the token endpoint
 * returns with changed claims (with the provider's own key, so only the claim checks can refuse it).
 */
export interface TestProvider {
  issuer: string
  login: TestLogin
  tamperIdToken: ((claims: Record<string, unknown>) => Record<string, unknown>) | undefined
  /** a JWT with these claims, signed with the provider's own key (logout tokens) */
  sign: (claims: Record<string, unknown>) => string
  /** what the provider-side browser holds (its session and interaction cookies) */
  jar: Map<string, string>
}

const b64url = (x: Buffer | string) => Buffer.from(x).toString('base64url')

function resign(idToken: string, key: KeyObject, kid: string, tamper: (c: Record<string, unknown>) => Record<string, unknown>): string {
  const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
  const head = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }))}.${b64url(JSON.stringify(tamper(claims)))}`
  return `${head}.${b64url(createSign('sha256').update(head).sign(key))}`
}

/** `emailInUserInfo`: email and name only from UserInfo, as many providers do (oidc-provider's default). */
export async function startTestProvider(t: TeardownHost, opts: { emailInUserInfo?: boolean } = {}): Promise<TestProvider> {
  const providerId = 'test'
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = 'test-key'
  const state: TestProvider = {
    issuer,
    login: { sub: 'alice-sub', email: 'alice@idp.example', emailVerified: true },
    tamperIdToken: undefined,
    jar: new Map(),
    sign: (claims) => resign(`x.${b64url('{}')}.x`, privateKey, kid, () => claims)
  }
  const accounts = new Map<string, TestLogin>()
  const provider = new Provider(issuer, {
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${WEB_ORIGIN}/auth/oidc/${providerId}/callback`] }],
    jwks: { keys: [{ ...(privateKey.export({ format: 'jwk' }) as object), kid, alg: 'RS256', use: 'sig' }] },
    claims: { openid: ['sub', 'amr'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: opts.emailInUserInfo === true,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    async findAccount(_ctx, sub) {
      const who = accounts.get(sub)
      if (!who) return undefined
      return { accountId: sub, claims: async () => ({ sub, email: who.email, email_verified: who.emailVerified, name: `User ${sub}` }) }
    }
  })
  provider.use(async (ctx, next) => {
    await next()
    const body = ctx.body as { id_token?: string } | undefined
    if (ctx.path === '/token' && state.tamperIdToken && body?.id_token)
      ctx.body = { ...body, id_token: resign(body.id_token, privateKey, kid, state.tamperIdToken) }
  })
  const callback = provider.callback()
  server.on('request', (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return callback(req, res)
    void (async () => {
      const details = await provider.interactionDetails(req, res)
      const who = state.login
      accounts.set(who.sub, who)
      const grant = new provider.Grant({ accountId: who.sub, clientId: String(details.params.client_id) })
      grant.addOIDCScope(String(details.params.scope))
      const grantId = await grant.save()
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: who.sub, ...(who.amr ? { amr: who.amr } : {}) }, consent: { grantId } },
        { mergeWithLastSubmission: false }
      )
    })().catch((err) => {
      res.statusCode = 500
      res.end(String(err))
    })
  })
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return state
}

function absorb(jar: Map<string, string>, res: Response): void {
  for (const c of res.headers.getSetCookie()) {
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
    if (next.origin === WEB_ORIGIN) return next
    url = next.href
  }
  throw new Error('too many redirects at the provider')
}

/** A browser on Palisade's side: the cookies auth set, by name. */
export function palisadeCookies(res: Response, jar = new Map<string, string>()): Map<string, string> {
  absorb(jar, res)
  return jar
}
