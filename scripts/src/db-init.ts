// One-shot database provisioning for deploy/compose.yml (`db-init`): connects as the PostgreSQL
// administrator and gives every service its own role and schema (provisionServiceRoles). The role
// names (serviceRoleName: palisade_<service>) and passwords are taken from the services' own
// DATABASE_URL secrets, so there is one source of truth per service. Idempotent: safe on every
// `compose up`.
import { readFileSync } from 'node:fs'
import { provisionServiceRoles } from '@palisade/platform'
import { adminUrlFromEnv, rolesFromDatabaseUrls } from './deploy/db-roles.js'
import { DATA_SERVICES } from './stack/services.js'

async function main(): Promise<void> {
  const files = (process.env.ROLE_URL_PATHS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (files.length === 0) throw new Error('ROLE_URL_PATHS is empty')
  const urls = files.map((f) => readFileSync(f, 'utf8').trim())
  const { url, database } = adminUrlFromEnv(process.env)
  const roles = rolesFromDatabaseUrls(urls, database, DATA_SERVICES)
  for (const w of await provisionServiceRoles(url, database, roles)) console.warn(`db-init: warning: ${w}`)
  console.log(`db-init: provisioned ${roles.map((r) => r.role).join(', ')} in ${database}`)
}

main().catch((err: Error) => {
  console.error(`db-init: ${err.message}`)
  process.exit(1)
})
