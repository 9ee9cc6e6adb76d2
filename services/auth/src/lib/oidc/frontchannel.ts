import type { ServerMetadata } from 'openid-client'
import type { AuthCore } from '../core.js'
import { endProviderSessions, providerByIssuer } from './provider-sessions.js'
import type { OidcProvider } from './providers.js'

/**
 * OpenID Connect Front-Channel Logout 1.0: the provider's logout page loads our endpoint in an
 * iframe with `iss` and `sid`. Nothing in the request is a credential but the `sid` (the provider's
 * unguessable session id), so no cookie is read. Returns the origins that may frame the answer
 * (the provider's: its issuer and its end-session page), or undefined for an unknown issuer.
 */
export async function frontchannelLogout(
  core: AuthCore,
  providers: ReadonlyMap<string, OidcProvider>,
  iss: string,
  sid: string
): Promise<{ ended: number; provider: OidcProvider; frameAncestors: string[] } | undefined> {
  let found: Awaited<ReturnType<typeof providerByIssuer>>
  try {
    found = await providerByIssuer(providers, iss)
  } catch {
    return undefined // a provider whose discovery fails cannot be the one asking
  }
  if (!found) return undefined
  const ended = await endProviderSessions(core, iss, { sid, sub: undefined })
  return { ended, provider: found.provider, frameAncestors: providerOrigins(found.metadata) }
}

function providerOrigins(metadata: ServerMetadata): string[] {
  const origins = new Set([new URL(metadata.issuer).origin])
  if (metadata.end_session_endpoint) origins.add(new URL(metadata.end_session_endpoint).origin)
  return [...origins]
}
