import { stringify } from 'yaml'
// Types only (erased at build): object literals typed with the API's interfaces make tsc refuse an
// unknown or misspelt field, which schema validation alone lets through.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob'
import type { IJob } from 'kubernetes-models/batch/v1/Job'
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import type { INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar'
import type { INamespace } from 'kubernetes-models/v1/Namespace'
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim'
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext'
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec'
import type { IProbe } from 'kubernetes-models/v1/Probe'
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext'
import type { IService } from 'kubernetes-models/v1/Service'
import type { IVolume } from 'kubernetes-models/v1/Volume'
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount'
import { APP_SERVICES, ROUTES, type AppServiceName, type ServiceName } from '@palisade/contracts'
import { collectContracts, passwordVariable, permissionsFor, PASSWORDS_INCLUDE } from '../nats/config.js'
import { buildDynamicConfig, buildStaticConfig, KUBERNETES_TARGET } from '../traefik/config.js'
import {
  EXAMPLE_OVERLAY,
  HTTP_PORT,
  METRICS_PORT,
  MONITORING_NAMESPACE,
  NATS_CHART,
  POSTGRES,
  SECRETS_DIR,
  SERVICE_SPECS,
  SETTINGS,
  TRAEFIK_IMAGE,
  type ServiceSpec
} from './settings.js'

/**
 * Kubernetes manifests (Kustomize base + example overlay + isolation Jobs + NATS Helm values),
 * generated from the route table, the NATS contracts and settings.ts like deploy/traefik/.
 */
/** any Kubernetes object (or Helm values / Kustomization document) the generator writes */
export type Manifest = object
/** the Kubernetes objects the generator writes, each checked by tsc against the API's interface */
type K8sObject = IDeployment | IService | IPodDisruptionBudget | IPersistentVolumeClaim | INetworkPolicy | INamespace | IConfigMap | IJob | ICronJob

const PART_OF = { 'app.kubernetes.io/part-of': 'palisade' }
/** pods that speak to NATS / PostgreSQL / receive traffic from the edge / expose metrics */
export const LABELS = {
  natsClient: 'palisade.dev/nats-client',
  dbClient: 'palisade.dev/db-client',
  routed: 'palisade.dev/routed',
  metrics: 'palisade.dev/metrics'
} as const
const NATS_POD = { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/instance': 'nats' }
const EDGE_POD = { 'app.kubernetes.io/name': 'traefik' }
const nameOf = (name: string) => ({ 'app.kubernetes.io/name': name })

/** The restricted Pod Security profile, container level. */
export const CONTAINER_SECURITY: ISecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' }
}

function podSecurity(uid: number): IPodSecurityContext {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } }
}

const tmpVolume: IVolume = { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }
const tmpMount: IVolumeMount = { name: 'tmp', mountPath: '/tmp' }

function routedServices(): Set<ServiceName> {
  return new Set(ROUTES.map((r) => r.service))
}

function commonEnv(spec: ServiceSpec): IEnvVar[] {
  const setting = (key: keyof typeof SETTINGS) => ({ name: key, valueFrom: { configMapKeyRef: { name: 'palisade-settings', key } } })
  const env: IEnvVar[] = [
    { name: 'NODE_ENV', value: 'production' },
    { name: 'HOST', value: '0.0.0.0' },
    { name: 'PORT', value: String(HTTP_PORT) },
    // the metrics listener defaults to loopback; Prometheus scrapes it from the monitoring namespace
    { name: 'METRICS_HOST', value: '0.0.0.0' },
    { name: 'METRICS_PORT', value: String(METRICS_PORT) },
    setting('LOG_LEVEL')
  ]
  if (spec.nats) {
    env.push(
      { name: 'NATS_URL', value: 'nats://nats:4222' },
      { name: 'NATS_USER', value: spec.name },
      { name: 'AUTH_ISSUER', value: 'palisade-auth' },
      setting('ALLOWED_ORIGINS'),
      setting('TRUSTED_PROXIES')
    )
  }
  for (const [file, variable] of Object.entries(spec.secrets)) env.push({ name: variable, value: `${SECRETS_DIR}/${file}` })
  for (const [name, value] of Object.entries(spec.env)) env.push(typeof value === 'string' ? { name, value } : setting(value.setting))
  return env
}

function serviceDeployment(spec: ServiceSpec): K8sObject[] {
  const selector = nameOf(spec.name)
  const labels: Record<string, string> = { ...selector, 'app.kubernetes.io/component': 'service', [LABELS.metrics]: 'true' }
  if (spec.nats) labels[LABELS.natsClient] = 'true'
  if (spec.database) labels[LABELS.dbClient] = 'true'
  if (routedServices().has(spec.name)) labels[LABELS.routed] = 'true'
  const volumes: IVolume[] = [tmpVolume]
  const mounts: IVolumeMount[] = [tmpMount]
  if (Object.keys(spec.secrets).length > 0) {
    // 0440 + fsGroup: readable by the service's group only, never writable
    volumes.push({ name: 'secrets', secret: { secretName: `palisade-${spec.name}`, defaultMode: 0o440 } })
    mounts.push({ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true })
  }
  if (spec.dataVolume) {
    volumes.push({ name: 'data', persistentVolumeClaim: { claimName: spec.dataVolume.claim } })
    mounts.push({ name: 'data', mountPath: spec.dataVolume.mountPath })
  }
  const probe = (path: string, extra: IProbe): IProbe => ({ httpGet: { path, port: 'http' }, timeoutSeconds: 3, ...extra })
  const deployment: IDeployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.name, labels: { ...selector, ...PART_OF } },
    spec: {
      replicas: 2,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: { ...labels, ...PART_OF } },
        spec: {
          // no Kubernetes API access at all: nothing in Palisade talks to it
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity(1000),
          terminationGracePeriodSeconds: 30,
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } }
          ],
          containers: [
            {
              name: spec.name,
              image: `palisade/${spec.name}:local`,
              imagePullPolicy: 'IfNotPresent',
              ports: [
                { name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' },
                { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }
              ],
              env: commonEnv(spec),
              resources: { requests: { cpu: spec.resources.cpu, memory: spec.resources.memory }, limits: { memory: spec.resources.memoryLimit } },
              securityContext: CONTAINER_SECURITY,
              // /readyz answers 503 while PostgreSQL or NATS is away: the pod leaves the Service
              // endpoints without being restarted; /healthz is "the process is alive".
              startupProbe: probe('/healthz', { periodSeconds: 2, failureThreshold: 60 }),
              readinessProbe: probe('/readyz', { periodSeconds: 5, failureThreshold: 2 }),
              livenessProbe: probe('/healthz', { periodSeconds: 10, failureThreshold: 3 }),
              volumeMounts: mounts
            }
          ],
          volumes
        }
      }
    }
  }
  const out: K8sObject[] = [
    deployment,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: spec.name, labels: { ...selector, ...PART_OF } },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [
          { name: 'http', port: HTTP_PORT, targetPort: 'http', protocol: 'TCP' },
          { name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' }
        ]
      }
    },
    pdb(spec.name)
  ]
  if (spec.dataVolume) {
    out.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: spec.dataVolume.claim, labels: { ...selector, ...PART_OF } },
      // several replicas share the blob store: the storage class must offer ReadWriteMany
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: spec.dataVolume.size } } }
    })
  }
  return out
}

function pdb(name: string): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name, labels: { ...nameOf(name), ...PART_OF } },
    spec: { minAvailable: 1, selector: { matchLabels: nameOf(name) } }
  }
}

export const EDGE_PORTS = KUBERNETES_TARGET.ports!

function traefik(): K8sObject[] {
  const labels = { ...EDGE_POD, 'app.kubernetes.io/component': 'edge' }
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'traefik', labels: { ...EDGE_POD, ...PART_OF } },
      spec: {
        replicas: 2,
        revisionHistoryLimit: 5,
        selector: { matchLabels: EDGE_POD },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: { ...labels, ...PART_OF } },
          spec: {
            // The file provider reads the generated configuration from a ConfigMap: Traefik needs no
            // ServiceAccount token, CRDs or RBAC, so the internet-facing pod cannot read the API.
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: podSecurity(65532),
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: EDGE_POD } }
            ],
            containers: [
              {
                name: 'traefik',
                image: TRAEFIK_IMAGE,
                args: ['--configFile=/etc/traefik/traefik.yml'],
                ports: [
                  { name: 'web', containerPort: EDGE_PORTS.web, protocol: 'TCP' },
                  { name: 'websecure', containerPort: EDGE_PORTS.websecure, protocol: 'TCP' },
                  { name: 'ping', containerPort: EDGE_PORTS.ping, protocol: 'TCP' }
                ],
                resources: { requests: { cpu: '250m', memory: '128Mi' }, limits: { memory: '512Mi' } },
                securityContext: CONTAINER_SECURITY,
                readinessProbe: { httpGet: { path: '/ping', port: 'ping' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
                livenessProbe: { httpGet: { path: '/ping', port: 'ping' }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
                volumeMounts: [{ name: 'config', mountPath: '/etc/traefik', readOnly: true }, { name: 'tls', mountPath: SECRETS_DIR, readOnly: true }, tmpMount]
              }
            ],
            volumes: [
              { name: 'config', configMap: { name: 'traefik-config' } },
              // a kubernetes.io/tls Secret, mounted under the names the generated dynamic.yml reads
              {
                name: 'tls',
                secret: {
                  secretName: 'palisade-tls',
                  defaultMode: 0o440,
                  items: [
                    { key: 'tls.crt', path: 'tls_cert' },
                    { key: 'tls.key', path: 'tls_key' }
                  ]
                }
              },
              tmpVolume
            ]
          }
        }
      }
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'traefik', labels: { ...EDGE_POD, ...PART_OF } },
      spec: {
        type: 'LoadBalancer',
        // keeps the client's address (rate limits, brute-force counting see real clients)
        externalTrafficPolicy: 'Local',
        selector: EDGE_POD,
        ports: [
          { name: 'web', port: 80, targetPort: 'web', protocol: 'TCP' },
          { name: 'websecure', port: 443, targetPort: 'websecure', protocol: 'TCP' }
        ]
      }
    },
    pdb('traefik')
  ]
}

function policy(name: string, podSelector: INetworkPolicySpec['podSelector'], spec: Omit<INetworkPolicySpec, 'podSelector'>): INetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, labels: PART_OF }, spec: { podSelector, ...spec } }
}

const label = (key: string) => ({ matchLabels: { [key]: 'true' } })
const tcp = (port: number | string) => ({ protocol: 'TCP', port }) as const

/** The compose isolation, as NetworkPolicies: default deny, then one allowance per arrow in ARCHITECTURE.md. */
function networkPolicies(): INetworkPolicy[] {
  const postgres = {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': POSTGRES.namespace } },
    podSelector: { matchLabels: { 'cnpg.io/cluster': POSTGRES.cluster } }
  }
  return [
    policy('default-deny', {}, { policyTypes: ['Ingress', 'Egress'] }),
    policy(
      'allow-dns',
      {},
      {
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }
            ],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 }
            ]
          }
        ]
      }
    ),
    // the only thing reachable from outside the namespace: the edge's entrypoints (not its ping)
    policy('edge-ingress', { matchLabels: EDGE_POD }, { policyTypes: ['Ingress'], ingress: [{ ports: [tcp(EDGE_PORTS.web), tcp(EDGE_PORTS.websecure)] }] }),
    policy(
      'edge-egress',
      { matchLabels: EDGE_POD },
      { policyTypes: ['Egress'], egress: [{ to: [{ podSelector: label(LABELS.routed) }], ports: [tcp(HTTP_PORT)] }] }
    ),
    policy('services-from-edge', label(LABELS.routed), {
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: EDGE_POD } }], ports: [tcp(HTTP_PORT)] }]
    }),
    policy('nats-clients-egress', label(LABELS.natsClient), {
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: NATS_POD } }], ports: [tcp(4222)] }]
    }),
    policy(
      'nats',
      { matchLabels: NATS_POD },
      {
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          { from: [{ podSelector: label(LABELS.natsClient) }], ports: [tcp(4222)] },
          { from: [{ podSelector: { matchLabels: NATS_POD } }], ports: [tcp(6222)] }
        ],
        egress: [{ to: [{ podSelector: { matchLabels: NATS_POD } }], ports: [tcp(6222)] }]
      }
    ),
    policy('database-clients-egress', label(LABELS.dbClient), { policyTypes: ['Egress'], egress: [{ to: [postgres], ports: [tcp(POSTGRES.port)] }] }),
    policy('metrics-from-monitoring', label(LABELS.metrics), {
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': MONITORING_NAMESPACE } } }], ports: [tcp(METRICS_PORT)] }]
    })
  ]
}

function namespace(name: string): INamespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: {
        ...PART_OF,
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/warn': 'restricted'
      }
    }
  }
}

/** NATS through the official Helm chart: a 3-node cluster with JetStream and the generated users. */
export function natsValues(): Manifest {
  const c = collectContracts()
  const users = APP_SERVICES.map((service: AppServiceName) => {
    const p = permissionsFor(service, c)
    return {
      user: service,
      password: `<< $${passwordVariable(service)} >>`,
      permissions: {
        publish: { allow: p.publish },
        subscribe: { allow: p.subscribe },
        ...(p.allowResponses ? { allow_responses: { max: 1, expires: '1m' } } : {})
      }
    }
  })
  const passwordsDir = '/etc/nats-passwords'
  return {
    config: {
      cluster: { enabled: true, replicas: 3 },
      jetstream: { enabled: true, fileStore: { pvc: { size: '10Gi' } } },
      merge: {
        // the per-service password variables, from the `nats-passwords` Secret (pnpm gen:secrets)
        '00$include': `..${passwordsDir.slice('/etc'.length)}/${PASSWORDS_INCLUDE}`,
        max_payload: '<< 1MB >>',
        max_connections: 2048,
        max_control_line: '<< 4KB >>',
        write_deadline: '10s',
        ping_interval: '30s',
        authorization: { users }
      }
    },
    container: {
      merge: { securityContext: CONTAINER_SECURITY, resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } } },
      patch: [{ op: 'add', path: '/volumeMounts/-', value: { name: 'nats-passwords', mountPath: passwordsDir, readOnly: true } }]
    },
    reloader: { merge: { securityContext: CONTAINER_SECURITY } },
    podTemplate: {
      merge: { spec: { automountServiceAccountToken: false, securityContext: podSecurity(1000) } },
      patch: [{ op: 'add', path: '/spec/volumes/-', value: { name: 'nats-passwords', secret: { secretName: 'nats-passwords', defaultMode: 0o440 } } }]
    },
    podDisruptionBudget: { enabled: true },
    // nats-box is a debugging shell with credentials: not in production
    natsBox: { enabled: false }
  }
}

const HEADER = (what: string) =>
  `# GENERATED by \`pnpm gen:kubernetes\` (${what}).\n` +
  '# Do not edit: change scripts/src/kubernetes/ (or the route table, NATS contracts) and regenerate;\n' +
  '# scripts/test/kubernetes.test.ts fails when this file differs from the generator output.\n'

export function yaml(docs: Manifest[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0, indent: 2, aliasDuplicateObjects: false })).join('---\n')
}

function kustomization(body: Manifest): Manifest {
  return { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', ...body }
}

/** The attacker and client probes of the isolation suite, as Jobs (no cluster here: documented). */
function isolation(): Record<string, K8sObject[]> {
  const ns = EXAMPLE_OVERLAY.namespace
  const clientNs = 'palisade-isolation'
  const svc = (s: string, port = HTTP_PORT) => `http://${s}.${ns}.svc:${port}`
  const targets = {
    client: {
      edgeUrl: `https://traefik.${ns}.svc`,
      origin: SETTINGS.ALLOWED_ORIGINS,
      insecureTls: true,
      mustBeUnreachable: [
        ...SERVICE_SPECS.map((s) => ({ name: s.name, host: `${s.name}.${ns}.svc`, port: HTTP_PORT })),
        { name: 'nats', host: `nats.${ns}.svc`, port: 4222 },
        { name: 'postgres', host: `${POSTGRES.cluster}-rw.${POSTGRES.namespace}.svc`, port: POSTGRES.port },
        ...SERVICE_SPECS.map((s) => ({ name: `${s.name} metrics`, host: `${s.name}.${ns}.svc`, port: METRICS_PORT }))
      ]
    },
    attacker: {
      services: Object.fromEntries(APP_SERVICES.filter((s) => s !== 'auth').map((s) => [s, svc(s)])),
      authUrl: svc('auth'),
      origin: SETTINGS.ALLOWED_ORIGINS,
      natsUrl: `nats://nats.${ns}.svc:4222`,
      natsPasswords: Object.fromEntries(APP_SERVICES.map((s) => [s, `file:/run/secrets/${s}/${s}_nats_password`])),
      databaseUrls: Object.fromEntries(SERVICE_SPECS.filter((s) => s.database).map((s) => [s.name, `file:/run/secrets/${s.name}/${s.name}_database_url`])),
      signingKey: 'file:/run/secrets/auth/auth_signing_keys',
      egress: [{ name: 'egress target outside the namespace', host: `egress-target.${clientNs}.svc`, port: 7070 }]
    }
  }
  const probeContainer = (args: string[]): IContainer => ({
    name: 'probe',
    image: 'palisade/scripts:local',
    imagePullPolicy: 'IfNotPresent',
    args,
    securityContext: CONTAINER_SECURITY,
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } }
  })
  const job = (name: string, namespace: string, labels: Record<string, string>, container: IContainer, volumes: IVolume[], mounts: IVolumeMount[]): IJob => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace, labels: PART_OF },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 86_400,
      template: {
        metadata: { labels: { ...nameOf(name), ...labels, ...PART_OF } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: podSecurity(1000),
          containers: [{ ...container, command: ['node', 'dist/isolation/probe-cli.js'], volumeMounts: [...mounts, tmpMount] }],
          volumes: [...volumes, tmpVolume]
        }
      }
    }
  })
  const targetsVolume = { name: 'targets', configMap: { name: 'isolation-targets' } }
  const targetsMount = { name: 'targets', mountPath: '/etc/palisade-isolation', readOnly: true }
  const targetsConfig = (namespace: string): IConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'isolation-targets', namespace, labels: PART_OF },
    data: { 'targets.json': `${JSON.stringify(targets, null, 2)}\n` }
  })
  const secretsVolume = {
    name: 'service-secrets',
    projected: {
      defaultMode: 0o440,
      sources: SERVICE_SPECS.filter((s) => Object.keys(s.secrets).length > 0).map((s) => ({
        secret: { name: `palisade-${s.name}`, items: Object.keys(s.secrets).map((file) => ({ key: file, path: `${s.name}/${file}` })) }
      }))
    }
  }
  const attackerLabels = { [LABELS.natsClient]: 'true', [LABELS.dbClient]: 'true', 'palisade.dev/isolation-probe': 'attacker' }
  return {
    'attacker.yaml': [
      targetsConfig(ns),
      // A compromised sibling: on top of what every service may reach (NATS, PostgreSQL), this
      // policy lets it reach every service's port directly, as the compose `internal` network does,
      // so the probes test what is left when the network layer is bypassed: assertions, NATS
      // permissions and database roles. Its egress outside the namespace stays denied (probe 7).
      policy(
        'isolation-attacker',
        { matchLabels: { 'palisade.dev/isolation-probe': 'attacker' } },
        {
          policyTypes: ['Egress'],
          egress: [{ to: [{ podSelector: label(LABELS.routed) }], ports: [tcp(HTTP_PORT)] }]
        }
      ),
      policy('services-from-isolation-attacker', label(LABELS.routed), {
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { 'palisade.dev/isolation-probe': 'attacker' } } }], ports: [tcp(HTTP_PORT)] }]
      }),
      job(
        'isolation-attacker',
        ns,
        attackerLabels,
        probeContainer(['--as', 'attacker', '--targets', '/etc/palisade-isolation/targets.json']),
        [targetsVolume, secretsVolume],
        [targetsMount, { name: 'service-secrets', mountPath: '/run/secrets', readOnly: true }]
      )
    ],
    'client.yaml': [
      { ...namespace(clientNs) },
      targetsConfig(clientNs),
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'egress-target', namespace: clientNs, labels: PART_OF },
        spec: {
          replicas: 1,
          selector: { matchLabels: nameOf('egress-target') },
          template: {
            metadata: { labels: { ...nameOf('egress-target'), ...PART_OF } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: podSecurity(1000),
              containers: [
                {
                  ...probeContainer(['--listen', '0.0.0.0:7070']),
                  command: ['node', 'dist/isolation/probe-cli.js'],
                  ports: [{ name: 'target', containerPort: 7070 }],
                  volumeMounts: [tmpMount]
                }
              ],
              volumes: [tmpVolume]
            }
          }
        }
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'egress-target', namespace: clientNs, labels: PART_OF },
        spec: { selector: nameOf('egress-target'), ports: [{ name: 'target', port: 7070, targetPort: 'target' }] }
      },
      job(
        'isolation-client',
        clientNs,
        {},
        probeContainer(['--as', 'client', '--targets', '/etc/palisade-isolation/targets.json']),
        [targetsVolume],
        [targetsMount]
      )
    ]
  }
}

/** One-shot and scheduled jobs of the scripts image: provisioning the database, nightly backups. */
function jobs(): Record<string, K8sObject[]> {
  const ns = EXAMPLE_OVERLAY.namespace
  const dataServices = SERVICE_SPECS.filter((s) => s.database)
  const adminEnv = [
    { name: 'PGHOST', value: `${POSTGRES.cluster}-rw.${POSTGRES.namespace}.svc` },
    { name: 'PGPORT', value: String(POSTGRES.port) },
    { name: 'PGDATABASE', value: 'palisade' },
    { name: 'PGUSER', value: 'postgres' },
    { name: 'POSTGRES_PASSWORD_FILE', value: `${SECRETS_DIR}/postgres_password` }
  ]
  // the administrator password (Secret palisade-db-admin) and, for db-init, every service's own URL
  const secrets = (withUrls: boolean) => ({
    name: 'secrets',
    projected: {
      defaultMode: 0o440,
      sources: [
        { secret: { name: 'palisade-db-admin', items: [{ key: 'postgres_password', path: 'postgres_password' }] } },
        ...(withUrls
          ? dataServices.map((s) => ({ secret: { name: `palisade-${s.name}`, items: [{ key: `${s.name}_database_url`, path: `${s.name}_database_url` }] } }))
          : [])
      ]
    }
  })
  const pod = (args: string[], env: IEnvVar[], volumes: IVolume[], mounts: IVolumeMount[]): IPodTemplateSpec => ({
    metadata: { labels: { [LABELS.dbClient]: 'true', ...PART_OF } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: podSecurity(1000),
      containers: [
        {
          name: 'scripts',
          image: 'palisade/scripts:local',
          imagePullPolicy: 'IfNotPresent',
          command: ['node'],
          args,
          env,
          securityContext: CONTAINER_SECURITY,
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
          volumeMounts: [{ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true }, ...mounts, tmpMount]
        }
      ],
      volumes: [...volumes, tmpVolume]
    }
  })
  return {
    'db-init.yaml': [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'db-init', namespace: ns, labels: PART_OF },
        spec: {
          backoffLimit: 6,
          ttlSecondsAfterFinished: 3600,
          template: pod(
            ['dist/db-init.js'],
            [...adminEnv, { name: 'ROLE_URL_PATHS', value: dataServices.map((s) => `${SECRETS_DIR}/${s.name}_database_url`).join(',') }],
            [secrets(true)],
            []
          )
        }
      }
    ],
    'backup.yaml': [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'palisade-backups', namespace: ns, labels: PART_OF },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '100Gi' } } }
      },
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'backup', namespace: ns, labels: PART_OF },
        spec: {
          schedule: '17 3 * * *',
          concurrencyPolicy: 'Forbid',
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: {
            spec: {
              backoffLimit: 0,
              template: pod(
                // --out defaults to a new timestamped directory under PALISADE_BACKUP_DIR
                ['dist/backup.js'],
                [...adminEnv, { name: 'FILES_STORAGE_DIR', value: '/var/lib/palisade/files' }, { name: 'PALISADE_BACKUP_DIR', value: '/backups' }],
                [
                  secrets(false),
                  { name: 'files', persistentVolumeClaim: { claimName: 'files-data', readOnly: true } },
                  { name: 'backups', persistentVolumeClaim: { claimName: 'palisade-backups' } }
                ],
                [
                  { name: 'files', mountPath: '/var/lib/palisade/files', readOnly: true },
                  { name: 'backups', mountPath: '/backups' }
                ]
              )
            }
          }
        }
      }
    ]
  }
}

/** Every generated file, by its path under deploy/kubernetes/. */
export function renderKubernetes(): Record<string, string> {
  const files: Record<string, string> = {}
  const base = (name: string, docs: Manifest[], what: string) => {
    files[`base/${name}`] = HEADER(what) + yaml(docs)
  }
  base('namespace.yaml', [namespace(EXAMPLE_OVERLAY.namespace)], 'the namespace, Pod Security "restricted" enforced')
  for (const spec of SERVICE_SPECS) base(`${spec.name}.yaml`, serviceDeployment(spec), `the ${spec.name} service`)
  base('traefik.yaml', traefik(), 'the edge: Traefik with the file provider')
  base('network-policies.yaml', networkPolicies(), 'the compose isolation as NetworkPolicies')
  files['base/traefik/traefik.yml'] =
    HEADER('Traefik static configuration for Kubernetes') + stringify(buildStaticConfig(KUBERNETES_TARGET), { lineWidth: 0, indent: 2 })
  files['base/traefik/dynamic.yml'] =
    HEADER('Traefik dynamic configuration, from the route table') +
    stringify(buildDynamicConfig(KUBERNETES_TARGET), { lineWidth: 0, indent: 2, aliasDuplicateObjects: false })
  files['base/kustomization.yaml'] =
    HEADER('the base') +
    yaml([
      kustomization({
        namespace: EXAMPLE_OVERLAY.namespace,
        resources: ['namespace.yaml', ...SERVICE_SPECS.map((s) => `${s.name}.yaml`), 'traefik.yaml', 'network-policies.yaml'],
        configMapGenerator: [
          { name: 'palisade-settings', literals: Object.entries(SETTINGS).map(([k, v]) => `${k}=${v}`) },
          { name: 'traefik-config', files: ['traefik/traefik.yml', 'traefik/dynamic.yml'] }
        ]
      })
    ])
  const o = EXAMPLE_OVERLAY
  files['overlays/example/kustomization.yaml'] =
    HEADER('an example overlay: copy it for an installation') +
    yaml([
      kustomization({
        namespace: o.namespace,
        resources: ['../../base', 'agents-egress.yaml'],
        images: SERVICE_SPECS.map((s) => ({ name: `palisade/${s.name}`, newName: `${o.registry}/${s.name}`, newTag: o.tag })),
        replicas: Object.entries(o.replicas).map(([name, count]) => ({ name, count })),
        configMapGenerator: [
          {
            name: 'palisade-settings',
            behavior: 'merge',
            literals: [`ALLOWED_ORIGINS=${o.origin}`, `AUTH_WEBAUTHN_ORIGIN=${o.origin}`, `TRUSTED_PROXIES=${o.podCidr}`]
          }
        ]
      })
    ])
  files['overlays/example/agents-egress.yaml'] =
    HEADER("the agents service's only way out: its configured model providers") +
    yaml([
      policy(
        'agents-providers-egress',
        { matchLabels: nameOf('agents') },
        {
          policyTypes: ['Egress'],
          egress: o.agentsEgress.map((p) => ({ to: [{ ipBlock: { cidr: p.cidr } }], ports: [tcp(p.port)] }))
        }
      )
    ])
  for (const [name, docs] of Object.entries(jobs())) files[`jobs/${name}`] = HEADER('jobs of the scripts image, see docs/deploy-kubernetes.md') + yaml(docs)
  const iso = isolation()
  for (const [name, docs] of Object.entries(iso)) files[`isolation/${name}`] = HEADER('the isolation suite as Jobs, see docs/deploy-kubernetes.md') + yaml(docs)
  files['nats/values.yaml'] =
    HEADER(`values for the official NATS chart ${NATS_CHART.name} ${NATS_CHART.version}, from the NATS contracts`) +
    stringify(natsValues(), { lineWidth: 0, indent: 2, aliasDuplicateObjects: false })
  return files
}
