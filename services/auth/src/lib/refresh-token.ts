import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'

/** 256 random bits, base64url (43 chars). Only its sha256 is stored. */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url')
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

const BOX_VERSION = 'v1'
const BOX_INFO = 'palisade/auth/refresh-successor/v1'

// The key is derived from the rotated token itself, which the database holds only as sha256: the
// box is useless to someone who can read the table, and opens only for whoever presents that token.
function boxKey(token: string): Buffer {
  return Buffer.from(hkdfSync('sha256', token, Buffer.alloc(0), BOX_INFO, 32))
}

/**
 * Seals the successor of a rotated refresh token (AES-256-GCM, bound to the token's row id), so a
 * parallel refresh with the same token inside the grace window can be given that very successor.
 */
export function sealSuccessor(token: string, rowId: string, successor: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', boxKey(token), iv, { authTagLength: 16 })
  cipher.setAAD(Buffer.from(rowId))
  const body = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()])
  return [BOX_VERSION, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
}

/** The successor inside a box, or undefined when the box is malformed or not for this token and row. */
export function openSuccessor(token: string, rowId: string, box: string): string | undefined {
  const [version, iv, body, tag, ...rest] = box.split('.')
  if (version !== BOX_VERSION || !iv || !body || !tag || rest.length > 0) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', boxKey(token), Buffer.from(iv, 'base64url'), { authTagLength: 16 })
    decipher.setAAD(Buffer.from(rowId))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
  } catch {
    return undefined
  }
}
