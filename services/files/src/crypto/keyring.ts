import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/** One key-encryption key: an id stored beside every data key it wraps, and 32 random bytes. */
export interface Kek {
  id: string
  key: Buffer
}

export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/
const WRAP_NONCE_BYTES = 12
const TAG_BYTES = 16
const DATA_KEY_BYTES = 32
const WRAP_CONTEXT = 'palisade-files/dek/v1'

export class KeyRingError extends Error {
  override name = 'KeyRingError'
}

/**
 * Parses FILES_KEYS: one `<id>:<base64 of 32 bytes>` per line (or `;`-separated). The first key
 * wraps new data keys; every listed key unwraps, so the old one keeps working until
 * `pnpm files:rotate-key` has re-wrapped everything. Never echoes key material in an error.
 */
export function parseKeyRing(text: string): Kek[] {
  const entries = text
    .split(/[\n;]/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
  if (entries.length === 0) throw new KeyRingError('FILES_KEYS holds no key')
  const keys = entries.map((line, i) => {
    const sep = line.indexOf(':')
    const id = sep > 0 ? line.slice(0, sep) : ''
    if (!KEY_ID.test(id)) throw new KeyRingError(`FILES_KEYS: entry #${i + 1} needs an id of 1-32 letters, digits, - or _ before ':'`)
    const key = Buffer.from(line.slice(sep + 1), 'base64')
    if (key.length !== DATA_KEY_BYTES) throw new KeyRingError(`FILES_KEYS: key ${id} must be 32 bytes in base64`)
    return { id, key }
  })
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new KeyRingError('FILES_KEYS lists one id twice')
  return keys
}

/** A new key-encryption key line for FILES_KEYS (gen:secrets, the launcher, rotation). */
export function newKekLine(now = new Date()): string {
  const id = `k${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`
  return `${id}:${randomBytes(DATA_KEY_BYTES).toString('base64')}`
}

/** What a file row stores about its data key: which KEK wrapped it, and the wrapped bytes (base64). */
export interface WrappedKey {
  keyId: string
  wrappedKey: string
}

/** The wrap binds the file id and the KEK id as AAD: a wrapped key copied onto another row fails to unwrap. */
function wrapAad(fileId: string, keyId: string): Buffer {
  return Buffer.from(`${WRAP_CONTEXT}|${fileId}|${keyId}`, 'utf8')
}

export class KeyRing {
  readonly current: Kek
  private readonly byId: Map<string, Kek>

  constructor(readonly keys: readonly Kek[]) {
    if (keys.length === 0) throw new KeyRingError('a key ring needs a key')
    this.current = keys[0]!
    this.byId = new Map(keys.map((k) => [k.id, k]))
  }

  has(keyId: string): boolean {
    return this.byId.has(keyId)
  }

  /** A fresh random data key for one file, and its wrapped form under the current KEK. */
  newDataKey(fileId: string): { dataKey: Buffer } & WrappedKey {
    const dataKey = randomBytes(DATA_KEY_BYTES)
    return { dataKey, ...this.wrap(dataKey, fileId) }
  }

  wrap(dataKey: Buffer, fileId: string, kek: Kek = this.current): WrappedKey {
    const nonce = randomBytes(WRAP_NONCE_BYTES)
    const cipher = createCipheriv('aes-256-gcm', kek.key, nonce)
    cipher.setAAD(wrapAad(fileId, kek.id))
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()])
    return { keyId: kek.id, wrappedKey: Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64') }
  }

  /** The data key of a file; throws when the KEK is unknown or the wrapped key was altered or moved. */
  unwrap(w: WrappedKey, fileId: string): Buffer {
    const kek = this.byId.get(w.keyId)
    if (!kek) throw new KeyRingError(`no key-encryption key with id ${w.keyId} is configured`)
    const raw = Buffer.from(w.wrappedKey, 'base64')
    if (raw.length !== WRAP_NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES) throw new KeyRingError('wrapped data key has the wrong length')
    const decipher = createDecipheriv('aes-256-gcm', kek.key, raw.subarray(0, WRAP_NONCE_BYTES))
    decipher.setAAD(wrapAad(fileId, kek.id))
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
    try {
      return Buffer.concat([decipher.update(raw.subarray(WRAP_NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()])
    } catch {
      throw new KeyRingError('wrapped data key does not authenticate')
    }
  }

  /** Re-wraps under the current KEK (rotation): the data key, and so the blob, stay as they are. */
  rewrap(w: WrappedKey, fileId: string): WrappedKey {
    return this.wrap(this.unwrap(w, fileId), fileId)
  }
}
