import { readFileSync } from 'node:fs'
import type { AppServiceName } from '@palisade/contracts'
import { serviceRoleName, type ServiceDatabaseRole } from '@palisade/platform'

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

/** The roles a stack provisions: one per service owning data, named by serviceRoleName. */
export function stackDatabaseRoles(database: string, services: readonly AppServiceName[], passwords: Record<AppServiceName, string>): ServiceDatabaseRole[] {
  return services.map((service) => ({ service, role: serviceRoleName(database, service), password: passwords[service] }))
}

/**
 * `postgres://palisade_chat:pw@host/palisade` → role `palisade_chat` owning schema `chat`. The role
 * must be named by serviceRoleName after one of `services`, and every URL must point at the same
 * database.
 */
export function rolesFromDatabaseUrls(urls: string[], database: string, services: readonly string[]): ServiceDatabaseRole[] {
  return urls.map((raw) => {
    const u = new URL(raw)
    const role = decodeURIComponent(u.username)
    const password = decodeURIComponent(u.password)
    if (!role || !password) throw new Error('every service DATABASE_URL must carry a user and a password')
    if (u.pathname.slice(1) !== database) throw new Error(`${role}: DATABASE_URL points at ${u.pathname.slice(1)}, not ${database}`)
    const service = services.find((s) => serviceRoleName(database, s) === role)
    if (!service)
      throw new Error(
        `${role}: not a service's role (roles are named <database>_<service>, e.g. ${serviceRoleName(database, services[0] ?? 'chat')}); rerun pnpm gen:secrets`
      )
    return { service, role, password }
  })
}
