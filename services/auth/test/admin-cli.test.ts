import { test } from 'tap'
import { adminCli } from '../src/cli/admin.js'
import { call, startTestStack } from './helpers.js'

test('pnpm admin: create an admin (password on stdin) and promote a member', async (t) => {
  const stack = await startTestStack(t)
  await stack.createUser() // the installation's first account: already the admin
  const member = await stack.createUser()
  const lines: string[] = []
  const out = (l: string) => lines.push(l)
  const env = { DATABASE_URL: stack.databaseUrl }
  const password = 'an operator password, long'

  t.equal(await adminCli(['create', 'Ops@Example.com', 'Ops', 'Team'], env, async () => `${password}\n`, out), 0, lines.at(-1))
  const ops = await stack.auth.pg.query('SELECT id, roles, display_name FROM auth.users WHERE email = $1', ['ops@example.com'])
  t.same(ops.rows[0].roles, ['admin'], 'created as admin')
  t.equal(ops.rows[0].display_name, 'Ops Team')
  const login = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: 'ops@example.com', password } })
  t.equal(login.status, 200, 'and can sign in with the password from stdin')
  t.same(login.json().user.roles, ['admin'])

  t.equal(await adminCli(['create', 'ops@example.com', 'Again'], env, async () => password, out), 1, 'an address taken: refused')
  t.equal(await adminCli(['create', 'weak@example.com', 'Weak'], env, async () => 'password1234', out), 1, 'a weak password: refused')
  t.match(lines.at(-1), /password/i)
  t.equal(await adminCli(['promote', 'nobody@example.com'], env, async () => '', out), 1, 'unknown address')
  t.equal(await adminCli(['frobnicate'], env, async () => '', out), 1, 'usage')
  t.match(lines.at(-1), /^usage:/)
  t.equal(await adminCli(['promote', member.email], {}, async () => '', out), 2, 'no DATABASE_URL: cannot run')

  t.equal(await adminCli(['promote', member.email.toUpperCase()], env, async () => '', out), 0)
  const roles = await stack.auth.pg.query('SELECT roles FROM auth.users WHERE id = $1', [member.userId])
  t.same(roles.rows[0].roles, ['admin'], 'promoted')
  const audit = await stack.auth.pg.query("SELECT details FROM auth.audit_log WHERE event IN ('admin.created', 'admin.role_changed') ORDER BY id")
  t.same(
    audit.rows.map((r) => r.details),
    [
      { target: ops.rows[0].id, via: 'cli' },
      { target: member.userId, role: 'admin', via: 'cli' }
    ],
    'both in the audit chain'
  )
})
