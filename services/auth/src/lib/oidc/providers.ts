import { readFileSync } from 'node:fs'
import * as client from 'openid-client'
import { Value } from 'typebox/value'
import { ErrorCode, OidcProvidersConfigSchema, type OidcProviderConfig } from '@palisade/contracts'
import { ProblemError, problems } from '@palisade/platform'
import type { AuthConfig } from '../../config.js'

/** Seconds of clock difference tolerated on an ID token's iat/exp (openid-client's default is 30). */
const CLOCK_TOLERANCE_SECONDS = 5

export interface OidcProvider {
  readonly settings: OidcProviderConfig
  readonly secret: string
  readonly scope: string
  /** discovered on first use (and again after a failure), so a provider down at start does not stop auth */
  configuration(): Promise<client.Configuration>
}

/** Parses and checks AUTH_OIDC_PROVIDERS at start: a mistake there stops the service with a clear message. */
export function loadOidcProviders(config: AuthConfig): Map<string, OidcProvider> {
  const out = new Map<string, OidcProvider>()
  if (!config.AUTH_OIDC_PROVIDERS) return out
  let raw: unknown
  try {
    raw = JSON.parse(config.AUTH_OIDC_PROVIDERS)
  } catch {
    throw new Error('AUTH_OIDC_PROVIDERS is not valid JSON')
  }
  if (!Value.Check(OidcProvidersConfigSchema, raw)) {
    const first = [...Value.Errors(OidcProvidersConfigSchema, raw)][0]
    throw new Error(`AUTH_OIDC_PROVIDERS: ${first?.instancePath ?? ''} ${first?.message ?? 'invalid'}`)
  }
  for (const p of raw) {
    if (out.has(p.id)) throw new Error(`AUTH_OIDC_PROVIDERS lists provider ${p.id} twice`)
    const issuer = new URL(p.issuer)
    const insecure = issuer.protocol === 'http:'
    if (insecure && config.NODE_ENV === 'production') throw new Error(`AUTH_OIDC_PROVIDERS: ${p.id} issuer must be https in production`)
    if ((p.clientSecret === undefined) === (p.clientSecretFile === undefined)) {
      throw new Error(`AUTH_OIDC_PROVIDERS: ${p.id} needs exactly one of clientSecretFile and clientSecret`)
    }
    const secret = p.clientSecret ?? readFileSync(p.clientSecretFile!, 'utf8').trim()
    const scopes = new Set(['openid', ...(p.scopes ?? ['email', 'profile'])])
    let pending: Promise<client.Configuration> | undefined
    out.set(p.id, {
      settings: p,
      secret,
      scope: [...scopes].join(' '),
      configuration() {
        pending ??= client
          .discovery(issuer, p.clientId, { client_secret: secret, [client.clockTolerance]: CLOCK_TOLERANCE_SECONDS }, undefined, {
            ...(insecure ? { execute: [client.allowInsecureRequests] } : {})
          })
          .catch((err: unknown) => {
            pending = undefined
            throw err
          })
        return pending
      }
    })
  }
  return out
}

export function providerOf(providers: ReadonlyMap<string, OidcProvider>, id: string): OidcProvider {
  const p = providers.get(id)
  if (!p) throw problems.notFound('No such sign-in provider')
  return p
}

export const oidcFailed = (detail = 'The sign-in with your provider did not complete; please start again') =>
  new ProblemError(401, ErrorCode.oidcFailed, detail)
