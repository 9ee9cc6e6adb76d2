import { securityHeaders } from '@palisade/platform'

/** Content-hashed files never change under their name. */
export const IMMUTABLE = 'public, max-age=31536000, immutable'

/**
 * What every answer starts with: the platform's header set for the web app's documents, never cached
 * (the HTML names the current asset hashes; problems and health are live), varying on the encoding
 * (gzip copies are chosen by Accept-Encoding). Assets replace the cache-control with IMMUTABLE.
 */
export const RESPONSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...securityHeaders('web'),
  'cache-control': 'no-store',
  vary: 'accept-encoding'
})
