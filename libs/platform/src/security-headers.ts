import type { FastifyHelmetOptions } from '@fastify/helmet'

type HeaderSet = Readonly<Record<string, string>>

/**
 * The API answer's set (OWASP REST Security Cheat Sheet: CSP, HSTS, nosniff, frame denial; plus
 * CORP, so no other origin can embed an answer). Helmet's headers that only mean something for an
 * HTML document (COOP, Origin-Agent-Cluster, Referrer-Policy, DNS prefetch) or for retired software
 * (X-Download-Options, cross-domain policies, the XSS auditor) protect nothing on JSON.
 */
const api: HeaderSet = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'self'",
  'cross-origin-resource-policy': 'same-origin',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY'
}

/** The web app's documents: a strict CSP of same-origin scripts, styles, images (blob: previews) and connections. */
const WEB_CONTENT_SECURITY_POLICY = [
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

/**
 * Every header set Palisade sends, by kind of answer. Each is the whole set that answer carries;
 * the platform sends `api` on every route (through @fastify/helmet, configured by
 * HELMET_OPTIONS), routes that answer something else set theirs on top.
 */
export const SECURITY_HEADERS = {
  api,
  /** stored files (files' content route): documents of their own, never part of our origin — no scripts, plugins or requests */
  fileContent: { ...api, 'content-security-policy': "sandbox; default-src 'none'" },
  /** auth's ForwardAuth denials (401/403/404 problem+json); the edge adds its own set for what is missing */
  authDenial: { 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; frame-ancestors 'none'" },
  /** auth's redirect of an unauthenticated navigation to /login: the original URL must not leak onward */
  authRedirect: { 'referrer-policy': 'no-referrer' },
  /** the local edge: on its own error answers, and on every relayed answer that lacks one of these */
  edge: {
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer'
  },
  /** the web service's HTML app and its assets (documents, so COOP, Referrer- and Permissions-Policy matter here) */
  web: {
    'content-security-policy': WEB_CONTENT_SECURITY_POLICY,
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()'
  }
} as const satisfies Record<string, HeaderSet>

export type SecurityHeaderVariant = keyof typeof SECURITY_HEADERS

for (const set of Object.values(SECURITY_HEADERS)) Object.freeze(set)
Object.freeze(SECURITY_HEADERS)

/** The security headers of one kind of answer (see SECURITY_HEADERS). */
export function securityHeaders(variant: SecurityHeaderVariant = 'api'): HeaderSet {
  return SECURITY_HEADERS[variant]
}

/** @fastify/helmet's configuration that produces exactly SECURITY_HEADERS.api (a platform test compares them). */
export const HELMET_OPTIONS: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'self'"] }
  },
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  xFrameOptions: { action: 'deny' },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  referrerPolicy: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false
}
