import { join, resolve } from 'node:path'
import { adminUrlFromEnv } from '../deploy/db-roles.js'
import { REPO_ROOT } from '../lib/paths.js'

/**
 * Where `pnpm backup`/`pnpm restore` find the installation, from the environment:
 * - the database: DATABASE_URL (an administrator URL, as for `pnpm start`), else the compose
 *   db-init variables (PGHOST, PGUSER, PGDATABASE, POSTGRES_PASSWORD_FILE);
 * - the file store: FILES_STORAGE_DIR, else the launcher's `<PALISADE_DATA_DIR>/files`;
 * - secrets (only with --with-secrets): PALISADE_SECRETS_DIR, else `<PALISADE_DATA_DIR>/secrets`.
 */
export function installationFromEnv(env: NodeJS.ProcessEnv): { databaseUrl: string; filesDir: string; secretsDir: string } {
  const dataDir = resolve(env.PALISADE_DATA_DIR ?? join(REPO_ROOT, '.data'))
  const databaseUrl = env.DATABASE_URL || (env.PGHOST ? adminUrlFromEnv(env).url : '')
  if (!databaseUrl) throw new Error('set DATABASE_URL to an administrator URL of the database (or PGHOST and POSTGRES_PASSWORD_FILE)')
  return {
    databaseUrl,
    filesDir: resolve(env.FILES_STORAGE_DIR || join(dataDir, 'files')),
    secretsDir: resolve(env.PALISADE_SECRETS_DIR || join(dataDir, 'secrets'))
  }
}

/** Each data service's drizzle migrations, in the repository as in the images (/app is the repository). */
export function migrationsFolder(schema: string): string {
  return join(REPO_ROOT, 'services', schema, 'drizzle')
}
