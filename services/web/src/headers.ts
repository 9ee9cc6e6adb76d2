/**
 * The response headers of the web service, as data. Unlike the JSON APIs (whose headers the
 * platform's security plugin sets) the web serves HTML documents a browser renders, so it needs a
 * CSP that lets its own scripts, styles and images load, plus the document-only headers (COOP,
 * Referrer-Policy, Permissions-Policy).
 */

/** Strict CSP: only same-origin scripts, styles, images (plus blob: previews) and connections. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'"
  // no upgrade-insecure-requests: it would break http://127.0.0.1 development; HSTS covers production
].join('; ')

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()'
}

/** Content-hashed files never change under their name. */
export const IMMUTABLE = 'public, max-age=31536000, immutable'

/**
 * What every answer starts with: the security headers, never cached (the HTML names the current
 * asset hashes; problems and health are live), varying on the encoding (gzip copies are chosen by
 * Accept-Encoding). Assets replace the cache-control with IMMUTABLE.
 */
export const RESPONSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...SECURITY_HEADERS,
  'cache-control': 'no-store',
  vary: 'accept-encoding'
})
