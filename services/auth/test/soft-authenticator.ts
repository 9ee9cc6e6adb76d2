import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'

/**
 * A software WebAuthn authenticator (P-256, "none" attestation) for the tests: it answers the
 * options auth hands out exactly as a browser + authenticator would, and lets a test forge what a
 * browser never would (another origin, another RP id, an old challenge).
 */

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n])
  if (n < 256) return Buffer.from([(major << 5) | 24, n])
  const b = Buffer.alloc(3)
  b[0] = (major << 5) | 25
  b.writeUInt16BE(n, 1)
  return b
}

/** The few CBOR items attestation objects and COSE keys need. */
function cbor(v: Cbor): Buffer {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v)
  if (typeof v === 'string') return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)])
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)])
  return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])])
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url')
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest()

export interface Ceremony {
  origin?: string
  rpId?: string
  challenge?: string
  userVerified?: boolean
}

export class SoftAuthenticator {
  readonly credentialId = randomBytes(32)
  private readonly key: KeyObject
  private readonly publicJwk: { x: string; y: string }
  private counter = 0
  userHandle: string | undefined

  constructor(readonly origin: string) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.key = privateKey
    this.publicJwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string }
  }

  get id(): string {
    return b64u(this.credentialId)
  }

  private authData(rpId: string, uv: boolean, attested: boolean): Buffer {
    const flags = 0x01 | (uv ? 0x04 : 0) | (attested ? 0x40 : 0)
    const count = Buffer.alloc(4)
    count.writeUInt32BE(++this.counter)
    const parts = [sha(rpId), Buffer.from([flags]), count]
    if (attested) {
      const cose = cbor(
        new Map<Cbor, Cbor>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, Buffer.from(this.publicJwk.x, 'base64url')],
          [-3, Buffer.from(this.publicJwk.y, 'base64url')]
        ])
      )
      const len = Buffer.alloc(2)
      len.writeUInt16BE(this.credentialId.length)
      parts.push(Buffer.alloc(16), len, this.credentialId, cose)
    }
    return Buffer.concat(parts)
  }

  private clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }))
  }

  /** navigator.credentials.create() for registration options `options`. */
  create(options: { challenge: string; rp: { id?: string }; user: { id: string } }, c: Ceremony = {}) {
    this.userHandle = options.user.id
    const rpId = c.rpId ?? options.rp.id!
    const clientDataJSON = this.clientData('webauthn.create', c.challenge ?? options.challenge, c.origin ?? this.origin)
    const attestationObject = cbor(
      new Map<Cbor, Cbor>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', this.authData(rpId, c.userVerified ?? true, true)]
      ])
    )
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key' as const,
      response: { clientDataJSON: b64u(clientDataJSON), attestationObject: b64u(attestationObject), transports: ['internal'] },
      clientExtensionResults: {}
    }
  }

  /** navigator.credentials.get() for authentication options `options`. */
  get(options: { challenge: string; rpId?: string }, c: Ceremony = {}) {
    const authenticatorData = this.authData(c.rpId ?? options.rpId!, c.userVerified ?? true, false)
    const clientDataJSON = this.clientData('webauthn.get', c.challenge ?? options.challenge, c.origin ?? this.origin)
    const signature = sign('sha256', Buffer.concat([authenticatorData, sha(clientDataJSON)]), this.key)
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authenticatorData),
        signature: b64u(signature),
        ...(this.userHandle ? { userHandle: this.userHandle } : {})
      },
      clientExtensionResults: {}
    }
  }
}
