import { createHash, randomBytes } from 'node:crypto'

/** 256 random bits, base64url (43 chars). Only its sha256 is stored. */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url')
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}
