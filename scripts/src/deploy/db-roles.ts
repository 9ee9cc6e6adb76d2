import { readFileSync } from 'node:fs'
import type { ServiceDatabaseRole } from '@palisade/platform'

/** Administrator URL from libpq-style variables; the password from POSTGRES_PASSWORD(_FILE). */
export function adminUrlFromEnv(env: NodeJS.ProcessEnv): { url: string; database: string } {
  const password = env.POSTGRES_PASSWORD_FILE ? readFileSync(env.POSTGRES_PASSWORD_FILE, 'utf8').trim() : env.POSTGRES_PASSWORD
  if (!password) throw new Error('POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD) is required')
  const database = env.PGDATABASE ?? 'palisade'
  const u = new URL(`postgres://${env.PGHOST ?? 'postgres'}:${env.PGPORT ?? '5432'}/${database}`)
  u.username = env.PGUSER ?? 'postgres'
  u.password = password
  return { url: u.toString(), database }
}

/**
 * `postgres://chat:pw@host/db` → role `chat` owning schema `chat`. Each service's role is named after
 * the service (its schema), and every URL must point at the same database.
 */
export function rolesFromDatabaseUrls(urls: string[], database: string): ServiceDatabaseRole[] {
  return urls.map((raw) => {
    const u = new URL(raw)
    const role = decodeURIComponent(u.username)
    const password = decodeURIComponent(u.password)
    if (!role || !password) throw new Error('every service DATABASE_URL must carry a user and a password')
    if (u.pathname.slice(1) !== database) throw new Error(`${role}: DATABASE_URL points at ${u.pathname.slice(1)}, not ${database}`)
    return { service: role, role, password }
  })
}
