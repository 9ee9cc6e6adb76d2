import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import { CronJob, Job } from 'kubernetes-models/batch/v1'
import { Deployment } from 'kubernetes-models/apps/v1'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ConfigMap, Namespace, PersistentVolumeClaim, Service } from 'kubernetes-models/v1'
import { APP_SERVICES, ROUTES, SERVICE_NAMES } from '@palisade/contracts'
import { DEPLOY_DIR } from '../src/lib/paths.js'
import { renderKubernetes } from '../src/kubernetes/manifests.js'
import { EXAMPLE_OVERLAY, HTTP_PORT, METRICS_PORT, SERVICE_SPECS } from '../src/kubernetes/settings.js'
import { permissionsFor } from '../src/nats/config.js'
import { buildDynamicConfig, PRODUCTION_TARGET } from '../src/traefik/config.js'

// deploy/kubernetes/ is generated: the committed files must be the generator's output, every object
// must validate against the Kubernetes API schemas (kubernetes-models 4.5.1), and the security
// properties the compose file promises must hold here too.
type Obj = {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
  spec?: any
  data?: Record<string, string>
}

const root = join(DEPLOY_DIR, 'kubernetes')
const files = renderKubernetes()

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Service': Service
}

function objectsOf(path: string): Obj[] {
  return parseAllDocuments(files[path]!).map((d) => d.toJSON() as Obj)
}
const manifestPaths = Object.keys(files).filter((p) => p.endsWith('.yaml') && !p.endsWith('kustomization.yaml') && !p.startsWith('nats/'))
const all = manifestPaths.flatMap((p) => objectsOf(p).map((o) => ({ path: p, o })))
const base = manifestPaths.filter((p) => p.startsWith('base/')).flatMap(objectsOf)
const byKind = (kind: string, objs = base) => objs.filter((o) => o.kind === kind)
const deployments = byKind('Deployment')
const policies = [...byKind('NetworkPolicy'), ...objectsOf('overlays/example/agents-egress.yaml'), ...objectsOf('overlays/example/traces-egress.yaml')]

t.test('the committed deploy/kubernetes/ is what pnpm gen:kubernetes writes', async (t) => {
  for (const [name, text] of Object.entries(files)) t.equal(readFileSync(join(root, name), 'utf8'), text, `deploy/kubernetes/${name}`)
})

t.test('every object validates against the Kubernetes schemas', async (t) => {
  t.ok(all.length > 30, `${all.length} objects`)
  for (const { path, o } of all) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`]
    if (!t.ok(Model, `${path}: ${o.apiVersion} ${o.kind} is a known kind`)) continue
    t.doesNotThrow(() => new Model!(o as never).validate(), `${path}: ${o.kind}/${o.metadata.name}`)
  }
})

t.test('the Kustomize layout is complete', async (t) => {
  for (const k of Object.keys(files).filter((p) => p.endsWith('kustomization.yaml'))) {
    const doc = parse(files[k]!) as { resources: string[]; configMapGenerator?: { files?: string[] }[] }
    for (const r of doc.resources) {
      const target = join(root, dirname(k), r)
      t.ok(existsSync(r.startsWith('..') ? join(target, 'kustomization.yaml') : target), `${k}: ${r} exists`)
    }
    for (const g of doc.configMapGenerator ?? []) for (const f of g.files ?? []) t.ok(existsSync(join(root, dirname(k), f)), `${k}: ${f} exists`)
  }
  const baseNames = new Set((parse(files['base/kustomization.yaml']!) as { resources: string[] }).resources)
  for (const p of manifestPaths.filter((p) => p.startsWith('base/'))) t.ok(baseNames.has(p.slice('base/'.length)), `${p} is part of the base`)
})

t.test('every service and the edge: a Deployment under the restricted Pod Security profile', async (t) => {
  t.same(deployments.map((d) => d.metadata.name).sort(), [...SERVICE_NAMES, 'traefik'].sort())
  const ns = byKind('Namespace')[0]!
  t.equal(ns.metadata.labels!['pod-security.kubernetes.io/enforce'], 'restricted', 'the namespace enforces it too')
  const everything = all.map((x) => x.o)
  const workloads = [
    ...byKind('Deployment', everything),
    ...byKind('Job', everything),
    ...byKind('CronJob', everything).map((c) => ({ ...c, spec: c.spec.jobTemplate.spec }))
  ]
  t.ok(workloads.length >= deployments.length + 4, `${workloads.length} workloads: services, edge, jobs, probes`)
  for (const d of workloads) {
    const pod = d.spec.template.spec
    const name = `${d.kind}/${d.metadata.name}`
    t.equal(pod.securityContext.runAsNonRoot, true, `${name}: runAsNonRoot`)
    t.ok(pod.securityContext.runAsUser > 0, `${name}: a non-root uid`)
    t.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', `${name}: seccomp RuntimeDefault`)
    t.equal(pod.automountServiceAccountToken, false, `${name}: no API token`)
    t.notOk(pod.hostNetwork || pod.hostPID || pod.hostIPC, `${name}: no host namespaces`)
    t.notOk(
      (pod.volumes ?? []).some((v: object) => 'hostPath' in v),
      `${name}: no hostPath`
    )
    for (const c of pod.containers) {
      const sc = c.securityContext
      t.equal(sc.allowPrivilegeEscalation, false, `${name}/${c.name}: no privilege escalation`)
      t.equal(sc.readOnlyRootFilesystem, true, `${name}/${c.name}: read-only root`)
      t.same(sc.capabilities.drop, ['ALL'], `${name}/${c.name}: drops ALL`)
      t.notOk(sc.capabilities.add, `${name}/${c.name}: adds none`)
      t.notOk(sc.privileged, `${name}/${c.name}: not privileged`)
      t.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${name}/${c.name}: resources`)
      t.notOk(
        (c.ports ?? []).some((p: { hostPort?: number }) => p.hostPort),
        `${name}/${c.name}: no host ports`
      )
      t.notOk(/:latest$/.test(c.image), `${name}/${c.name}: a pinned image`)
    }
  }
  const edge = deployments.find((d) => d.metadata.name === 'traefik')!.spec.template.spec.containers[0]
  t.match(edge.image, /^traefik:[0-9.]+@sha256:[0-9a-f]{64}$/, 'Traefik pinned by version and digest')
})

t.test('services: probes on their health routes, secrets as files, PDBs, Services', async (t) => {
  const composeEnv = parse(readFileSync(join(DEPLOY_DIR, 'compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, unknown> }>
  }
  const pdbs = byKind('PodDisruptionBudget')
  const services = byKind('Service')
  for (const spec of SERVICE_SPECS) {
    const d = deployments.find((x) => x.metadata.name === spec.name)!
    const pod = d.spec.template.spec
    const c = pod.containers[0]
    t.equal(c.readinessProbe.httpGet.path, '/readyz', `${spec.name}: readiness is /readyz`)
    t.equal(c.livenessProbe.httpGet.path, '/healthz', `${spec.name}: liveness is /healthz`)
    t.ok(d.spec.replicas >= 2, `${spec.name}: several replicas`)
    const env = new Map<string, { value?: string }>(c.env.map((e: { name: string }) => [e.name, e]))
    for (const name of Object.keys(composeEnv.services[spec.name]?.environment ?? {})) t.ok(env.has(name), `${spec.name}: ${name} is set as in compose`)
    t.equal(env.get('METRICS_PORT')?.value, String(METRICS_PORT), `${spec.name}: metrics on ${METRICS_PORT}`)
    t.notOk(
      c.env.some((e: { name: string; value?: string; valueFrom?: { secretKeyRef?: unknown } }) => e.valueFrom?.secretKeyRef),
      `${spec.name}: no secret in an environment variable`
    )
    for (const [file, variable] of Object.entries(spec.secrets))
      t.equal(env.get(variable)?.value, `/run/secrets/${file}`, `${spec.name}: ${variable} points at the mounted file`)
    const secretVolume = pod.volumes.find((v: { secret?: unknown }) => v.secret)
    if (Object.keys(spec.secrets).length === 0) t.notOk(secretVolume, `${spec.name}: no secrets at all`)
    else {
      t.equal(secretVolume.secret.secretName, `palisade-${spec.name}`, `${spec.name}: its own Secret only`)
      t.equal(secretVolume.secret.defaultMode, 0o440, `${spec.name}: secret files read-only`)
    }
    t.equal(env.has('DATABASE_URL_FILE'), spec.database, `${spec.name}: database credentials only if it owns data`)
    t.ok(
      pdbs.some((p) => p.spec.selector.matchLabels['app.kubernetes.io/name'] === spec.name && p.spec.minAvailable === 1),
      `${spec.name}: a PodDisruptionBudget`
    )
    const svc = services.find((s) => s.metadata.name === spec.name)!
    t.equal(svc.spec.type, 'ClusterIP', `${spec.name}: reachable inside the cluster only`)
  }
  t.same(
    services.filter((s) => s.spec.type !== 'ClusterIP').map((s) => s.metadata.name),
    ['traefik'],
    'only the edge has an external Service'
  )
})

t.test('NetworkPolicies mirror the compose isolation', async (t) => {
  const named = (n: string) => policies.find((p) => p.metadata.name === n)!
  const deny = named('default-deny')
  t.same(deny.spec.podSelector, {}, 'default deny selects every pod')
  t.same(deny.spec.policyTypes.sort(), ['Egress', 'Ingress'], 'for both directions')
  t.notOk(deny.spec.ingress || deny.spec.egress, 'and allows nothing')
  const labelsOf = (name: string) => {
    const d = [...deployments].find((x) => x.metadata.name === name)!
    return d.spec.template.metadata.labels as Record<string, string>
  }
  const selects = (sel: { matchLabels?: Record<string, string> }, labels: Record<string, string>) =>
    Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v)
  // ingress allowed to a pod, per policy rule: from which peers and ports
  const ingressTo = (name: string) => policies.filter((p) => selects(p.spec.podSelector, labelsOf(name))).flatMap((p) => p.spec.ingress ?? [])
  const egressFrom = (name: string) => policies.filter((p) => selects(p.spec.podSelector, labelsOf(name))).flatMap((p) => p.spec.egress ?? [])

  const edgeIn = ingressTo('traefik')
  t.ok(
    edgeIn.some((r: { from?: unknown }) => !r.from),
    'the edge accepts connections from anywhere'
  )
  t.same(edgeIn.flatMap((r: { ports: { port: number }[] }) => r.ports.map((p) => p.port)).sort(), [8000, 8443], 'on its entrypoints only (not ping)')
  for (const s of SERVICE_NAMES) {
    for (const rule of ingressTo(s)) {
      t.ok(rule.from, `${s}: no ingress rule open to every source`)
      for (const peer of rule.from) {
        const fromEdge = peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'traefik' && !peer.namespaceSelector
        const monitoring = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring'
        t.ok(fromEdge || monitoring, `${s}: ingress only from the edge or Prometheus`)
        if (monitoring)
          t.same(
            rule.ports.map((p: { port: number }) => p.port),
            [METRICS_PORT],
            `${s}: Prometheus reaches the metrics port only`
          )
        if (fromEdge)
          t.same(
            rule.ports.map((p: { port: number }) => p.port),
            [HTTP_PORT],
            `${s}: the edge reaches the HTTP port`
          )
      }
    }
    const routed = ROUTES.some((r) => r.service === s)
    t.equal(
      ingressTo(s).some((r: { from: { podSelector?: { matchLabels?: Record<string, string> } }[] }) =>
        r.from.some((p) => p.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'traefik')
      ),
      routed,
      `${s}: reachable from the edge iff the route table routes to it`
    )
    // egress: DNS, NATS, PostgreSQL — and the agents' providers from the overlay, nothing else
    for (const rule of egressFrom(s)) {
      const ports = rule.ports.map((p: { port: number }) => p.port)
      const to = rule.to ?? []
      t.ok(to.length > 0, `${s}: every egress rule names its peers`)
      const ok =
        ports.every((p: number) => p === 53) ||
        (ports.join() === '4222' &&
          to.every((p: { podSelector?: { matchLabels?: Record<string, string> } }) => p.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'nats')) ||
        (ports.join() === '5432' &&
          to.every((p: { podSelector?: { matchLabels?: Record<string, string> } }) => p.podSelector?.matchLabels?.['cnpg.io/cluster'])) ||
        (s === 'agents' && to.every((p: { ipBlock?: { cidr: string } }) => EXAMPLE_OVERLAY.agentsEgress.some((e) => e.cidr === p.ipBlock?.cidr))) ||
        (ports.join() === String(EXAMPLE_OVERLAY.traces.port) &&
          to.every(
            (p: { namespaceSelector?: { matchLabels?: Record<string, string> }; podSelector?: { matchLabels?: Record<string, string> } }) =>
              p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring' &&
              p.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'opentelemetry-collector'
          ))
      t.ok(ok, `${s}: egress to ${JSON.stringify(to)} on ${ports} is one of DNS, NATS, PostgreSQL, a provider or the trace collector`)
    }
    const dests = egressFrom(s).flatMap((r: { ports: { port: number }[] }) => r.ports.map((p) => p.port))
    t.ok(dests.includes(EXAMPLE_OVERLAY.traces.port), `${s}: with the example overlay, reaches the trace collector`)
    t.equal(dests.includes(4222), s !== 'web', `${s}: reaches NATS iff it is a NATS client`)
    t.equal(dests.includes(5432), SERVICE_SPECS.find((x) => x.name === s)!.database, `${s}: reaches PostgreSQL iff it owns data`)
  }
  t.notOk(
    policies.some((p) => (p.spec.egress ?? []).some((r: { to?: { ipBlock?: { cidr: string } }[] }) => r.to?.some((x) => x.ipBlock?.cidr === '0.0.0.0/0'))),
    'no egress to the whole Internet anywhere'
  )
  t.same(
    egressFrom('traefik').flatMap((r: { ports: { port: number }[] }) => r.ports.map((p) => p.port)),
    [53, 53, HTTP_PORT],
    'the edge reaches DNS and the services only'
  )
})

t.test('Traefik uses the generated routes, with ForwardAuth, from a ConfigMap', async (t) => {
  const dynamic = parse(files['base/traefik/dynamic.yml']!)
  t.same(dynamic, buildDynamicConfig(PRODUCTION_TARGET), 'the same dynamic configuration as compose (services by their Service names)')
  t.match(JSON.stringify(dynamic), /"forwardAuth":\{"address":"http:\/\/auth:3000\/auth\/verify"/, 'ForwardAuth to auth')
  const staticConfig = parse(files['base/traefik/traefik.yml']!) as { providers: Record<string, unknown>; entryPoints: Record<string, { address: string }> }
  t.same(Object.keys(staticConfig.providers), ['file'], 'the file provider only: no Kubernetes API access')
  t.equal(staticConfig.entryPoints.websecure!.address, ':8443', 'unprivileged ports')
})

t.test('NATS: the official chart with the generated users, a 3-node JetStream cluster', async (t) => {
  const values = parse(files['nats/values.yaml']!) as any
  t.equal(values.config.cluster.replicas, 3)
  t.equal(values.config.jetstream.enabled, true)
  const users = values.config.merge.authorization.users as {
    user: string
    password: string
    permissions: { publish: { allow: string[] }; subscribe: { allow: string[] } }
  }[]
  t.same(
    users.map((u) => u.user),
    [...APP_SERVICES]
  )
  for (const u of users) {
    const p = permissionsFor(u.user as (typeof APP_SERVICES)[number])
    t.same(u.permissions.publish.allow, p.publish, `${u.user}: publish allow list`)
    t.same(u.permissions.subscribe.allow, p.subscribe, `${u.user}: subscribe allow list`)
    t.match(u.password, /^<< \$[A-Z]+_NATS_PASSWORD >>$/, `${u.user}: password from the mounted Secret, not in the values`)
  }
  t.equal(values.container.merge.securityContext.readOnlyRootFilesystem, true)
  t.equal(values.natsBox.enabled, false, 'no nats-box')
})

t.test('the isolation suite as Jobs', async (t) => {
  const attacker = objectsOf('isolation/attacker.yaml')
  const client = objectsOf('isolation/client.yaml')
  const targets = (objs: Obj[]) => JSON.parse(objs.find((o) => o.kind === 'ConfigMap')!.data!['targets.json']!)
  t.ok(byKind('Job', attacker)[0]!.spec.template.spec.containers[0].args.includes('attacker'))
  t.ok(byKind('Job', client)[0]!.spec.template.spec.containers[0].args.includes('client'))
  t.not(byKind('Job', client)[0]!.metadata.namespace, EXAMPLE_OVERLAY.namespace, 'the client probes run outside the namespace')
  const unreachable = targets(client).client.mustBeUnreachable.map((h: { name: string }) => h.name)
  for (const s of SERVICE_NAMES) t.ok(unreachable.includes(s), `the client checks ${s} is unreachable`)
  t.same(targets(attacker), targets(client), 'both Jobs read the same targets')
})

t.test('db-init and the nightly backup run from the scripts image', async (t) => {
  const init = objectsOf('jobs/db-init.yaml')[0]!
  const c = init.spec.template.spec.containers[0]
  t.same(c.args, ['dist/db-init.js'])
  const roleUrls = c.env.find((e: { name: string }) => e.name === 'ROLE_URL_PATHS').value.split(',')
  t.same(
    roleUrls,
    SERVICE_SPECS.filter((s) => s.database).map((s) => `/run/secrets/${s.name}_database_url`),
    'provisions the role of every service that owns data'
  )
  const cron = objectsOf('jobs/backup.yaml').find((o) => o.kind === 'CronJob')!
  const pod = cron.spec.jobTemplate.spec.template.spec
  t.same(pod.containers[0].args, ['dist/backup.js'], 'no --with-secrets: secrets stay out of scheduled backups')
  t.ok(
    pod.volumes.some(
      (v: { persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }) =>
        v.persistentVolumeClaim?.claimName === 'files-data' && v.persistentVolumeClaim.readOnly
    ),
    'reads the blob store read-only'
  )
  t.equal(cron.spec.concurrencyPolicy, 'Forbid')
})
