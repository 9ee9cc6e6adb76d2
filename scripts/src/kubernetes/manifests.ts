import { stringify } from 'yaml'
// Types only (erased at build): object literals typed with the API's interfaces make tsc refuse an
// unknown or misspelt field, which schema validation alone lets through.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import type { IProbe } from 'kubernetes-models/v1/Probe'
import type { IVolume } from 'kubernetes-models/v1/Volume'
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount'
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
import {
  commonEnv,
  CONTAINER_SECURITY,
  EDGE_POD,
  label,
  LABELS,
  kustomization,
  namespace,
  NATS_POD,
  nameOf,
  PART_OF,
  podSecurity,
  policy,
  routedServices,
  tcp,
  tmpMount,
  tmpVolume,
  type K8sObject,
  type Manifest
} from './common.js'
import { isolation } from './isolation.js'
import { natsValues } from './nats-values.js'
import { jobs } from './jobs.js'
import { exampleOverlay } from './overlay.js'

export { CONTAINER_SECURITY, LABELS, type Manifest } from './common.js'
export { natsValues } from './nats-values.js'

// Kubernetes manifests (Kustomize base + example overlay + isolation Jobs + NATS Helm values),
// generated from the route table, the NATS contracts and settings.ts like deploy/traefik/. The
// services, the edge and the network policies are here; overlay.ts, isolation.ts, jobs.ts and nats-values.ts
// hold the rest, common.ts what they share.

/** A service's Deployment and the objects that go with it. */
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

const HEADER = (what: string) =>
  `# GENERATED by \`pnpm gen:kubernetes\` (${what}).\n` +
  '# Do not edit: change scripts/src/kubernetes/ (or the route table, NATS contracts) and regenerate;\n' +
  '# scripts/test/kubernetes.test.ts fails when this file differs from the generator output.\n'

export function yaml(docs: Manifest[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0, indent: 2, aliasDuplicateObjects: false })).join('---\n')
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
  const overlay = exampleOverlay()
  files['overlays/example/kustomization.yaml'] = HEADER('an example overlay: copy it for an installation') + yaml([overlay.kustomization])
  files['overlays/example/agents-egress.yaml'] = HEADER("the agents service's only way out: its configured model providers") + yaml(overlay.agentsEgress)
  files['overlays/example/traces-egress.yaml'] =
    HEADER('traces: every service may reach the OpenTelemetry collector, on its OTLP/HTTP port only') + yaml(overlay.tracesEgress)
  for (const [name, docs] of Object.entries(jobs())) files[`jobs/${name}`] = HEADER('jobs of the scripts image, see docs/deploy-kubernetes.md') + yaml(docs)
  const iso = isolation()
  for (const [name, docs] of Object.entries(iso)) files[`isolation/${name}`] = HEADER('the isolation suite as Jobs, see docs/deploy-kubernetes.md') + yaml(docs)
  files['nats/values.yaml'] =
    HEADER(`values for the official NATS chart ${NATS_CHART.name} ${NATS_CHART.version}, from the NATS contracts`) +
    stringify(natsValues(), { lineWidth: 0, indent: 2, aliasDuplicateObjects: false })
  return files
}
