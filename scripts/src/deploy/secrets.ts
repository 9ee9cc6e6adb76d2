import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { APP_SERVICES, type AppServiceName } from '@palisade/contracts'
import { generateSigningKey, serviceRoleName, signingKeyToPem } from '@palisade/platform'
import { renderPasswords } from '../nats/config.js'

/** Secrets the stack needs, generated once into a directory and reused on every start. */
export interface StackSecrets {
  postgresPassword: string
  dbPasswords: Record<AppServiceName, string>
  natsPasswords: Record<AppServiceName, string>
  /** PEM of auth's ES256 signing key */
  authSigningKeys: string
  /** 64 hex characters: auth's key for TOTP secrets and recovery-code hashes */
  authMfaKey: string
  /** the files service's key-encryption keys (FILES_KEYS: `<id>:<base64 32 bytes>` per line) */
  filesKeys: string
  dir: string
}

const token = () => randomBytes(24).toString('base64url')

/**
 * A FILES_KEYS line: `<id>:<base64 of 32 random bytes>` (the format services/files parses; rotation
 * puts a new line first, docs/operations in services/files/README.md).
 */
export function newFilesKekLine(now = new Date()): string {
  return `k${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}:${randomBytes(32).toString('base64')}\n`
}

/** Reads `name` from `dir`, creating it with `make()` (mode 0600) when absent. */
function ensureFile(dir: string, name: string, make: () => string, mode = 0o600): string {
  const path = join(dir, name)
  if (!existsSync(path)) {
    writeFileSync(path, make(), { mode })
  }
  return readFileSync(path, 'utf8').trim()
}

export function ensureSecrets(dir: string, opts: { fileMode?: number } = {}): StackSecrets {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  const mode = opts.fileMode ?? 0o600
  const postgresPassword = ensureFile(dir, 'postgres_password', token, mode)
  const dbPasswords = {} as Record<AppServiceName, string>
  const natsPasswords = {} as Record<AppServiceName, string>
  for (const s of APP_SERVICES) {
    dbPasswords[s] = ensureFile(dir, `${s}_db_password`, token, mode)
    natsPasswords[s] = ensureFile(dir, `${s}_nats_password`, token, mode)
  }
  const authSigningKeys = ensureFile(dir, 'auth_signing_keys', () => signingKeyToPem(generateSigningKey()), mode)
  const authMfaKey = ensureFile(dir, 'auth_mfa_key', () => randomBytes(32).toString('hex'), mode)
  const filesKeys = ensureFile(dir, 'files_keys', newFilesKekLine, mode)
  writeFileSync(join(dir, 'nats_passwords.conf'), renderPasswords(natsPasswords), { mode })
  return { postgresPassword, dbPasswords, natsPasswords, authSigningKeys, authMfaKey, filesKeys, dir }
}

/** The connection URL of a service's own role (named by serviceRoleName) for the given host/port/database. */
export function serviceDatabaseUrl(service: AppServiceName, password: string, host: string, port: number, database: string): string {
  const u = new URL(`postgres://${host}:${port}/${database}`)
  u.username = serviceRoleName(database, service)
  u.password = password
  return u.toString()
}

/** The database compose's services share (db-init's PGDATABASE). */
export const COMPOSE_DATABASE = 'palisade'

/**
 * compose: the *_database_url secrets point at the `postgres` container (services owning data);
 * Kubernetes passes the PostgreSQL cluster's Service as `host`.
 * Rewritten on every run, so the mode is set explicitly: writeFileSync's only applies to new files.
 */
export function writeComposeDatabaseUrls(s: StackSecrets, services: readonly AppServiceName[], mode = 0o600, host = 'postgres'): void {
  for (const svc of services) {
    const path = join(s.dir, `${svc}_database_url`)
    writeFileSync(path, `${serviceDatabaseUrl(svc, s.dbPasswords[svc], host, 5432, COMPOSE_DATABASE)}\n`, { mode })
    chmodSync(path, mode)
  }
}
