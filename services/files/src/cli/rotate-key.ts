/**
 * `pnpm files:rotate-key` — re-wraps every file's data key under the first key of FILES_KEYS.
 * Blobs are not touched (the data keys stay the same), so this is fast and safe to interrupt and run
 * again; instances keep serving throughout because every key listed in FILES_KEYS unwraps. When it
 * reports nothing left under another key, the old key can be removed from FILES_KEYS.
 * Reads DATABASE_URL and FILES_KEYS (or their *_FILE) like the service. Exit 0: nothing left under
 * another key; 1: some rows could not be re-wrapped (listed); 2: it could not run.
 */
import { pathToFileURL } from 'node:url'
import { Type } from 'typebox'
import { BaseConfigSchema, createPool, loadConfig } from '@palisade/platform'
import { KeyRing, parseKeyRing } from '../crypto/keyring.js'

const Schema = Type.Object({
  DATABASE_URL: BaseConfigSchema.properties.DATABASE_URL,
  FILES_KEYS: Type.String({ minLength: 1, maxLength: 16_384 })
})

export interface RotationResult {
  rewrapped: number
  /** rows whose key could not be re-wrapped: unknown key id, or a wrapped key that does not authenticate */
  failed: { id: string; reason: string }[]
  /** rows stored before encryption at rest (no data key): not something rotation can fix */
  unencrypted: number
}

/**
 * Walks the rows not under the current key in id order, a batch per transaction, each row locked
 * (SKIP LOCKED: two runs share the work instead of waiting). The UPDATE repeats the old key id, so
 * a row changed meanwhile is left to the next pass rather than overwritten.
 */
type Pool = ReturnType<typeof createPool>

export async function rotateDataKeys(pool: Pool, keys: KeyRing, batch = 200): Promise<RotationResult> {
  const result: RotationResult = { rewrapped: 0, failed: [], unencrypted: 0 }
  let after = '00000000-0000-0000-0000-000000000000'
  for (;;) {
    const client = await pool.connect()
    let last: string | undefined
    try {
      await client.query('BEGIN')
      const { rows } = await client.query<{ id: string; key_id: string; wrapped_key: string }>(
        `SELECT id, key_id, wrapped_key FROM files.files
         WHERE key_id IS NOT NULL AND key_id <> $1 AND id > $2
         ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [keys.current.id, after, batch]
      )
      for (const row of rows) {
        last = row.id
        try {
          const next = keys.rewrap({ keyId: row.key_id, wrappedKey: row.wrapped_key }, row.id)
          await client.query('UPDATE files.files SET key_id = $2, wrapped_key = $3 WHERE id = $1 AND key_id = $4', [
            row.id,
            next.keyId,
            next.wrappedKey,
            row.key_id
          ])
          result.rewrapped++
        } catch (err) {
          result.failed.push({ id: row.id, reason: (err as Error).message })
        }
      }
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
    if (!last) break
    after = last
  }
  const legacy = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM files.files WHERE key_id IS NULL')
  result.unencrypted = legacy.rows[0]?.n ?? 0
  return result
}

export async function rotateKeyCommand(env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  let config: { DATABASE_URL: string; FILES_KEYS: string }
  let keys: KeyRing
  try {
    config = loadConfig(Schema, env)
    keys = new KeyRing(parseKeyRing(config.FILES_KEYS.replace(/\\n/g, '\n')))
  } catch (err) {
    out(`files:rotate-key: ${(err as Error).message}`)
    return 2
  }
  const pool = createPool({ url: config.DATABASE_URL, name: 'files-rotate-key', schema: 'files', max: 1 })
  try {
    const r = await rotateDataKeys(pool, keys)
    out(`re-wrapped ${r.rewrapped} data keys under ${keys.current.id}`)
    if (r.unencrypted > 0) out(`${r.unencrypted} files were stored before encryption at rest and are refused when read (services/files/README.md)`)
    for (const f of r.failed) out(`could not re-wrap file ${f.id}: ${f.reason}`)
    if (r.failed.length > 0) return 1
    out('no data key is wrapped by another key: keys after the first may now be removed from FILES_KEYS')
    return 0
  } catch (err) {
    out(`files:rotate-key: ${(err as Error).message}`)
    return 2
  } finally {
    await pool.end()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await rotateKeyCommand(process.env, (line) => process.stdout.write(`${line}\n`))
}
