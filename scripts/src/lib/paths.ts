import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

/** Root of the repository (this file lives in scripts/src/lib). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy')
