/** Identity headers the edge copies from auth's /verify answer onto the upstream request. */
export const IDENTITY_HEADERS = {
  user: 'x-authenticated-user',
  session: 'x-authenticated-session',
  assertion: 'x-authenticated-assertion'
} as const

export const IDENTITY_HEADER_NAMES: readonly string[] = Object.values(IDENTITY_HEADERS)

export const REQUEST_ID_HEADER = 'x-request-id'

/** Headers the edge rebuilds itself; client copies are never trusted. */
export const FORWARDED_HEADERS = [
  'x-forwarded-method',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-uri',
  'x-forwarded-for',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-real-ip',
  'forwarded'
] as const

/** Hop-by-hop headers (RFC 9110 §7.6.1) never relayed to auth or upstream. */
export const HOP_BY_HOP_HEADERS = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
] as const

/**
 * Canonical form of a header name for spoofing checks: lower case, `_` and `.` folded to `-`.
 * Proxies and frameworks that fold `X_Authenticated_User` into the dash form have had CVEs, so every
 * spelling that canonicalises to a protected name must be dropped.
 */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/[_.]/g, '-')
}

const PROTECTED = new Set<string>([...IDENTITY_HEADER_NAMES, ...FORWARDED_HEADERS])

/** True for any spelling of an identity or forwarding header a client must not be able to set. */
export function isProtectedHeader(name: string): boolean {
  return PROTECTED.has(canonicalHeaderName(name))
}

/** NATS message headers. The acting user is set by the calling service, never taken from a payload. */
export const NATS_HEADERS = {
  actingUser: 'Palisade-Acting-User',
  actingSession: 'Palisade-Acting-Session',
  requestId: 'Palisade-Request-Id',
  serviceError: 'Nats-Service-Error',
  serviceErrorCode: 'Nats-Service-Error-Code',
  problemCode: 'Palisade-Problem-Code',
  /**
   * Id of an event relayed from a service's outbox. The relay delivers at least once: consumers
   * (the gateway) drop a second copy with an id they have seen on that subject.
   */
  eventId: 'Palisade-Event-Id',
  /** W3C trace context of the span that sent the message */
  traceparent: 'traceparent'
} as const
