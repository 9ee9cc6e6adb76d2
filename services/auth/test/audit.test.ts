import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { auditVerify } from '../src/cli/audit-verify.js'
import { appendAudit, verifyAuditChain } from '../src/lib/audit.js'
import { call, startTestStack } from './helpers.js'

const here = fileURLToPath(new URL('..', import.meta.url))

test('the audit log records security events in a hash chain that detects tampering', async (t) => {
  const stack = await startTestStack(t, { auth: { TRUSTED_PROXIES: '127.0.0.1' } })
  const pool = stack.auth.pg
  const alice = await stack.createUser()
  const login = (password: string, ip = '198.51.100.1') =>
    call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: alice.email, password }, headers: { 'x-forwarded-for': ip } })
  await login('wrong-password-1')
  await call(`${stack.authUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${alice.accessToken}` } })

  const events = (await pool.query<{ event: string; user_id: string | null; ip: string | null }>('SELECT event, user_id, ip FROM auth.audit_log ORDER BY id'))
    .rows
  t.same(
    events.map((e) => e.event),
    ['user.registered', 'login.succeeded', 'login.failed', 'logout']
  )
  t.ok(
    events.every((e) => e.user_id === alice.userId),
    'each tied to the user'
  )
  t.equal(events[2]!.ip, '198.51.100.1', 'with the client address')
  const dump = JSON.stringify((await pool.query('SELECT * FROM auth.audit_log')).rows)
  t.notOk(dump.includes('wrong-password-1') || dump.includes(alice.password), 'no password in the audit log')

  // Concurrent appends (two instances, many requests) still form one chain.
  await Promise.all(Array.from({ length: 20 }, (_, i) => appendAudit(pool, { event: 'login.failed', ip: `10.0.0.${i}` })))
  let verdict = await verifyAuditChain(pool, 7)
  t.match(verdict, { ok: true, rows: 24 })

  const lines: string[] = []
  t.equal(await auditVerify({ DATABASE_URL: stack.databaseUrl }, (l) => lines.push(l)), 0)
  t.match(lines[0], /intact: 24 rows/)

  // An insider edits a row: that row is reported.
  await pool.query("UPDATE auth.audit_log SET ip = '192.0.2.99' WHERE id = 3")
  verdict = await verifyAuditChain(pool)
  t.match(verdict, { ok: false, brokenAt: 3, reason: /content/ })
  lines.length = 0
  t.equal(await auditVerify({ DATABASE_URL: stack.databaseUrl }, (l) => lines.push(l)), 1)
  t.match(lines[0], /BROKEN at row 3/)

  // ... and rewrites its hash to match: the next row's link breaks.
  const fix = await pool.query<{ prev_hash: string }>('SELECT prev_hash FROM auth.audit_log WHERE id = 3')
  const { rowHash } = await import('../src/lib/audit.js')
  const r3 = (await pool.query('SELECT id, at, event, user_id, session_id, ip, details FROM auth.audit_log WHERE id = 3')).rows[0]
  const forged = rowHash(fix.rows[0]!.prev_hash, {
    id: 3,
    at: r3.at,
    event: r3.event,
    userId: r3.user_id,
    sessionId: r3.session_id,
    ip: r3.ip,
    details: r3.details
  })
  await pool.query('UPDATE auth.audit_log SET hash = $1 WHERE id = 3', [forged])
  t.match(await verifyAuditChain(pool), { ok: false, brokenAt: 4, reason: /prev_hash/ })

  // Deleting a row instead is found too.
  await pool.query("UPDATE auth.audit_log SET ip = '198.51.100.1' WHERE id = 3")
  await pool.query('UPDATE auth.audit_log SET hash = (SELECT prev_hash FROM auth.audit_log WHERE id = 4) WHERE id = 3')
  t.match(await verifyAuditChain(pool), { ok: true }, 'restored')
  await pool.query('DELETE FROM auth.audit_log WHERE id = 10')
  t.match(await verifyAuditChain(pool), { ok: false, brokenAt: 10, reason: /missing/ })

  // The packaged command, as an operator runs it.
  const cmd = spawnSync(process.execPath, ['--conditions=development', '--import=tsx', 'src/cli/audit-verify.ts'], {
    cwd: here,
    env: { ...process.env, DATABASE_URL: stack.databaseUrl },
    encoding: 'utf8',
    timeout: 60_000
  })
  t.equal(cmd.status, 1, 'exit code 1 on a broken chain')
  t.match(cmd.stdout, /BROKEN at row 10/)
  lines.length = 0
  t.equal(await auditVerify({}, (l) => lines.push(l)), 2, 'no database configured')
  t.match(lines[0], /DATABASE_URL is required/)
})
