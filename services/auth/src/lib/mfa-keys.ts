import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'

/** Subkeys of AUTH_MFA_KEY: one seals TOTP secrets, the other keys recovery-code hashes. */
export interface MfaKeys {
  readonly seal: Buffer
  readonly codes: Buffer
}

export function deriveMfaKeys(master: Buffer): MfaKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32))
  return { seal: derive('palisade/auth/totp-secret/v1'), codes: derive('palisade/auth/recovery-code/v1') }
}

const VERSION = 'v1'

/** AES-256-GCM with `context` (the owner's user id) as associated data: a box moved to another row does not open. */
export function sealSecret(keys: MfaKeys, plaintext: string, context: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', keys.seal, iv, { authTagLength: 16 })
  cipher.setAAD(Buffer.from(context))
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return [VERSION, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
}

/** The sealed plaintext; throws when the box was made with another key or context, or altered. */
export function openSecret(keys: MfaKeys, box: string, context: string): string {
  const [version, iv, body, tag] = box.split('.')
  if (version !== VERSION || !iv || !body || !tag) throw new Error('not a sealed secret')
  const decipher = createDecipheriv('aes-256-gcm', keys.seal, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
  decipher.setAAD(Buffer.from(context))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
}

export function hashRecoveryCode(keys: MfaKeys, normalised: string): string {
  return createHmac('sha256', keys.codes).update(normalised).digest('hex')
}
