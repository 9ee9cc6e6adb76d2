import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { hash, verify } from '@node-rs/argon2'

/** OWASP's Argon2id baseline: 19 MiB, 2 passes, 1 lane. */
// `algorithm: 2` is Algorithm.Argon2id (a const enum, which verbatimModuleSyntax cannot import).
const ARGON2 = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2)
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password)
  } catch {
    return false
  }
}

/**
 * A hash of a random password made with the same parameters, verified for unknown emails so that
 * "no such account" costs exactly as long as "wrong password".
 */
export async function makeDummyHash(): Promise<string> {
  return hashPassword(`dummy-${Math.random()}-${Date.now()}`)
}

let common: Set<string> | undefined
const LIST = fileURLToPath(new URL('../../data/common-passwords.txt', import.meta.url))

function commonPasswords(): Set<string> {
  common ??= new Set(
    readFileSync(LIST, 'utf8')
      .split('\n')
      .map((l) => l.trim().toLowerCase())
      .filter((l) => l && !l.startsWith('#'))
  )
  return common
}

/** Why a new password is refused, or undefined when it is acceptable (length is checked by the schema). */
export function passwordWeakness(password: string, email: string): string | undefined {
  const lower = password.toLowerCase()
  if (commonPasswords().has(lower)) return 'This password is too common'
  if (new Set(lower).size < 4) return 'This password repeats too few characters'
  const local = email.split('@')[0] ?? ''
  if (lower === email.toLowerCase() || (local.length >= 4 && lower.includes(local.toLowerCase()) && lower.length - local.length < 6)) {
    return 'This password is too close to the email address'
  }
  return undefined
}

/** Loaded at start so a missing list fails the boot, not the first registration. */
export function preloadCommonPasswords(): number {
  return commonPasswords().size
}
