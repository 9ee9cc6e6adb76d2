/**
 * `pnpm --filter @palisade/auth run audit:verify` — walks auth's audit log hash chain and reports
 * the first row that does not match (edited, deleted, inserted or reordered). Exit 0 when the
 * chain is intact, 1 when it is broken, 2 when it could not be checked.
 * Reads DATABASE_URL (or DATABASE_URL_FILE) like the service.
 */
import { pathToFileURL } from 'node:url'
import { Type } from 'typebox'
import { createPool, loadConfig, BaseConfigSchema } from '@palisade/platform'
import { verifyAuditChain } from '../lib/audit.js'

const Schema = Type.Object({ DATABASE_URL: BaseConfigSchema.properties.DATABASE_URL })

export async function auditVerify(env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  let url: string
  try {
    url = loadConfig(Schema, env).DATABASE_URL
  } catch (err) {
    out(`audit:verify: ${(err as Error).message}`)
    return 2
  }
  const pool = createPool({ url, name: 'auth-audit-verify', schema: 'auth', max: 1 })
  try {
    const verdict = await verifyAuditChain(pool)
    if (verdict.ok) {
      out(`audit chain intact: ${verdict.rows} rows, head ${verdict.head}`)
      return 0
    }
    out(`audit chain BROKEN at row ${verdict.brokenAt}: ${verdict.reason} (${verdict.rows} rows before it verified)`)
    return 1
  } catch (err) {
    out(`audit:verify: cannot read the audit log (${(err as Error).message})`)
    return 2
  } finally {
    await pool.end()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await auditVerify(process.env, (line) => process.stdout.write(`${line}\n`))
}
