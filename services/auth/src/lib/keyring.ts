import type { KeyObject } from 'node:crypto'
import { publicJwk, type SigningKey } from '@palisade/platform'
import type { Jwks } from '@palisade/contracts'

/** Auth's own keys: the first signs, every one verifies (rotation), all are published as the JWKS. */
export class Keyring {
  readonly signer: SigningKey
  private readonly byKid: Map<string, KeyObject>
  readonly jwks: Jwks

  constructor(keys: SigningKey[]) {
    if (keys.length === 0) throw new Error('at least one signing key is required')
    this.signer = keys[0]!
    this.byKid = new Map(keys.map((k) => [k.kid, k.publicKey]))
    this.jwks = { keys: keys.map(publicJwk) }
  }

  publicKey(kid: string): KeyObject | undefined {
    return this.byKid.get(kid)
  }
}
