import type { IncomingMessage } from 'node:http'
import { IDENTITY_HEADER_NAMES, canonicalHeaderName } from '@palisade/contracts'

/**
 * TEST-ONLY misconfiguration (edge-cli.ts `--broken no-strip`): the client's copies of the identity
 * headers, in whatever spelling, can no longer be deleted or replaced on this request — what a proxy
 * without the scrub middleware and without auth's response headers would pass on. The isolation
 * suite must fail against it (probe 2).
 */
export function freezeClientIdentity(req: IncomingMessage): void {
  const identity = new Set(IDENTITY_HEADER_NAMES)
  const frozen = new Set(Object.keys(req.headers).filter((k) => identity.has(canonicalHeaderName(k))))
  if (frozen.size === 0) return
  req.headers = new Proxy(req.headers, {
    deleteProperty: (t, k) => (typeof k === 'string' && frozen.has(k) ? true : Reflect.deleteProperty(t, k)),
    set: (t, k, v) => (typeof k === 'string' && frozen.has(k) ? true : Reflect.set(t, k, v))
  })
}
