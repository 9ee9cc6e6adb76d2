import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { Jwk } from '@palisade/contracts'

export interface SigningKey {
  kid: string
  privateKey: KeyObject
  publicKey: KeyObject
}

/** RFC 7638 thumbprint: a kid derived from the key itself, stable across restarts. */
export function thumbprintKid(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as { crv: string; kty: string; x: string; y: string }
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
  return createHash('sha256').update(canonical).digest('base64url')
}

export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { kid: thumbprintKid(publicKey), privateKey, publicKey }
}

/** Loads a PEM (PKCS#8 or SEC1) P-256 private key. */
export function signingKeyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem)
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('signing keys must be EC P-256')
  }
  const publicKey = createPublicKey(privateKey)
  return { kid: thumbprintKid(publicKey), privateKey, publicKey }
}

export function signingKeyToPem(key: SigningKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
}

export function publicJwk(key: SigningKey): Jwk {
  const jwk = key.publicKey.export({ format: 'jwk' }) as { x: string; y: string }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: key.kid, alg: 'ES256', use: 'sig' }
}

export function publicKeyFromJwk(jwk: Jwk): KeyObject {
  return createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' })
}
