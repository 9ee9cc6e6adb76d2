import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
type NatsConnection = Awaited<ReturnType<typeof connectNats>>
import { APP_SERVICES, AuthJwksGet, type AppServiceName } from '@palisade/contracts'
import { connectNats } from '@palisade/platform'
import { startNatsServer } from '@palisade/platform/testing'
import { DEPLOY_DIR } from '../src/lib/paths.js'
import { collectContracts, inlineNatsConf, permissionsFor, renderNatsConf } from '../src/nats/config.js'

const committed = readFileSync(join(DEPLOY_DIR, 'nats', 'nats.conf'), 'utf8')

t.test('deploy/nats/nats.conf is exactly the generator output', async (t) => {
  t.equal(committed, renderNatsConf(), 'deploy/nats/nats.conf is stale: run pnpm gen:nats after changing NATS contracts')
  t.notMatch(committed, /password:\s*"/, 'no literal password in the committed file')
})

t.test('permissions follow the contracts', async (t) => {
  const c = collectContracts()
  t.ok(c.endpoints.length >= 2 && c.events.length >= 1)
  for (const ep of c.endpoints) {
    for (const s of APP_SERVICES) {
      const p = permissionsFor(s)
      t.equal(p.publish.includes(ep.subject), ep.callers.includes(s), `${s} ${ep.callers.includes(s) ? 'may' : 'may not'} call ${ep.subject}`)
      t.equal(p.subscribe.includes(ep.subject), ep.owner === s, `${s} ${ep.owner === s ? 'serves' : 'cannot serve'} ${ep.subject}`)
    }
  }
  for (const s of APP_SERVICES) {
    const p = permissionsFor(s)
    t.same(
      p.subscribe.filter((x) => x.startsWith('_INBOX')),
      [`_INBOX_${s}.>`],
      `${s}: only its own inbox`
    )
    t.notOk(
      [...p.publish, ...p.subscribe].some((x) => x === '>' || x.startsWith('_INBOX.') || x.startsWith('$')),
      `${s}: no wildcard-all, shared inbox or system subjects`
    )
  }
})

t.test('a real nats-server with this config enforces it', async (t) => {
  const passwords = Object.fromEntries(APP_SERVICES.map((s) => [s, randomBytes(18).toString('base64url')])) as Record<AppServiceName, string>
  const server = await startNatsServer({ config: inlineNatsConf(committed, passwords) })
  t.teardown(() => server.stop())
  const conns: NatsConnection[] = []
  t.teardown(async () => {
    for (const nc of conns) await nc.close().catch(() => {})
  })
  const as = async (service: AppServiceName, opts: { inboxPrefix?: string; pass?: string } = {}) => {
    const nc = await connectNats({
      url: server.url,
      name: service,
      user: service,
      pass: opts.pass ?? passwords[service],
      ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {})
    })
    conns.push(nc)
    return nc
  }
  const violations = (nc: NatsConnection): string[] => {
    const seen: string[] = []
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error') seen.push(String((s as { error?: Error }).error?.message ?? ''))
    })()
    return seen
  }

  await t.rejects(
    connectNats({ url: server.url, name: 'chat', user: 'chat', pass: 'wrong-password' }).then((nc) => nc.close()),
    'a wrong password is refused'
  )

  const auth = await as('auth')
  auth.subscribe(AuthJwksGet.subject, { callback: (_e, m) => m.respond(JSON.stringify({ keys: [] })) })
  await auth.flush()

  const chat = await as('chat')
  const reply = await chat.request(AuthJwksGet.subject, '{}', { timeout: 2000 })
  t.same(reply.json(), { keys: [] }, 'a listed caller gets its answer through allow_responses and its private inbox')

  // files is not a caller of chat.message.create: its publish never reaches chat.
  const chatOwner = chat
  const got: string[] = []
  chatOwner.subscribe('chat.message.create', { callback: (_e, m) => got.push(m.string()) })
  await chatOwner.flush()
  const files = await as('files')
  const filesErrors = violations(files)
  files.publish('chat.message.create', 'forged')
  files.publish('auth.session.revoked', 'forged revocation')
  await files.flush()
  await new Promise((r) => setTimeout(r, 200))
  t.same(got, [], "a service cannot publish to another service's command subject")
  t.ok(
    filesErrors.some((e) => /permissions violation/i.test(e)),
    'the server reports the violation'
  )

  // gateway is a caller: its publish does arrive.
  const gateway = await as('gateway')
  gateway.publish('chat.message.create', 'legit')
  await gateway.flush()
  await new Promise((r) => setTimeout(r, 100))
  t.same(got, ['legit'])

  // nobody can read another service's replies
  const refused: string[] = []
  for (const subject of ['_INBOX_chat.>', 'auth.jwks.get']) {
    gateway.subscribe(subject, {
      callback: (err) => (err ? refused.push(subject) : t.fail(`gateway received a message on ${subject}`))
    })
  }
  await gateway.flush().catch(() => {})
  await new Promise((r) => setTimeout(r, 100))
  t.same((await chat.request(AuthJwksGet.subject, '{}', { timeout: 2000 })).json(), { keys: [] }, 'the answer still goes to chat only')
  await new Promise((r) => setTimeout(r, 100))
  t.same(refused.sort(), ['_INBOX_chat.>', 'auth.jwks.get'], 'subscriptions to a foreign inbox or endpoint are refused')

  // the shared default inbox is not allowed: clients must use their private prefix
  const plain = await as('agents', { inboxPrefix: '_INBOX' })
  await t.rejects(plain.request(AuthJwksGet.subject, '{}', { timeout: 500 }), 'a request with the shared _INBOX prefix gets no reply')
})
