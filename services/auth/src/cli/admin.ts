/**
 * `pnpm admin` — account administration for ops, on auth's own code and database:
 *   pnpm admin create <email> <display name>   (reads the password from the first line of stdin)
 *   pnpm admin promote <email>
 * Exit 0 done, 1 refused (address taken, no such account, weak password, bad usage), 2 could not
 * run (configuration, database). Reads DATABASE_URL (or DATABASE_URL_FILE) like the service.
 * Promotion takes effect at the account's next token check (within an access-token lifetime).
 */
import { pathToFileURL } from 'node:url'
import { Type } from 'typebox'
import { BaseConfigSchema, createPool, loadConfig, ProblemError, withTransaction } from '@palisade/platform'
import { appendAudit } from '../lib/audit.js'
import { hashPassword, passwordWeakness } from '../lib/passwords.js'
import { ACCOUNTS_LOCK, createAccount } from '../lib/registration.js'

const Schema = Type.Object({ DATABASE_URL: BaseConfigSchema.properties.DATABASE_URL })
const USAGE = 'usage: pnpm admin create <email> <display name>  (password on stdin) | pnpm admin promote <email>'
const EMAIL = /^[^\s@]+@[^\s@]+$/

export async function adminCli(args: string[], env: NodeJS.ProcessEnv, readPassword: () => Promise<string>, out: (line: string) => void): Promise<number> {
  const [command, rawEmail, ...rest] = args
  const email = rawEmail?.trim().toLowerCase() ?? ''
  const displayName = rest.join(' ').trim()
  if (!EMAIL.test(email) || email.length > 254 || (command === 'create' ? !displayName || displayName.length > 80 : command !== 'promote' || rest.length)) {
    out(USAGE)
    return 1
  }
  let url: string
  try {
    url = loadConfig(Schema, env).DATABASE_URL
  } catch (err) {
    out(`admin: ${(err as Error).message}`)
    return 2
  }
  const pool = createPool({ url, name: 'auth-admin-cli', schema: 'auth', max: 1 })
  try {
    if (command === 'create') {
      const password = (await readPassword()).replace(/\r?\n$/, '')
      const weak = passwordWeakness(password, email)
      if (weak) {
        out(`admin: ${weak}`)
        return 1
      }
      const created = await createAccount(pool, { email, displayName, passwordHash: await hashPassword(password) }, { as: 'ops', role: 'admin' })
      await appendAudit(pool, { event: 'admin.created', userId: null, details: { target: created.id, via: 'cli' } })
      out(`created admin ${email} (${created.id})`)
      return 0
    }
    const promoted = await withTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [ACCOUNTS_LOCK])
      const r = await client.query<{ id: string; disabled: boolean }>(
        "UPDATE auth.users SET roles = '{admin}'::text[] WHERE email = $1 RETURNING id, disabled_at IS NOT NULL AS disabled",
        [email]
      )
      return r.rows[0]
    })
    if (!promoted) {
      out(`admin: no account with the address ${email}`)
      return 1
    }
    await appendAudit(pool, { event: 'admin.role_changed', userId: null, details: { target: promoted.id, role: 'admin', via: 'cli' } })
    out(`${email} (${promoted.id}) is an admin${promoted.disabled ? ' (but disabled: enable it in the admin console)' : ''}`)
    return 0
  } catch (err) {
    if (err instanceof ProblemError && err.statusCode < 500) {
      out(`admin: ${err.message}`)
      return 1
    }
    out(`admin: ${(err as Error).message}`)
    return 2
  } finally {
    await pool.end()
  }
}

async function firstLineOfStdin(): Promise<string> {
  let text = ''
  for await (const chunk of process.stdin) {
    text += String(chunk)
    if (text.includes('\n') || text.length > 4096) break
  }
  return text.split('\n')[0] ?? ''
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await adminCli(process.argv.slice(2), process.env, firstLineOfStdin, (line) => process.stdout.write(`${line}\n`))
}
