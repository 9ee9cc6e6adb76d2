// Types only (erased at build): object literals typed with the API's interfaces make tsc refuse an
// unknown or misspelt field, which schema validation alone lets through.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob'
import type { IJob } from 'kubernetes-models/batch/v1/Job'
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import type { INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar'
import type { INamespace } from 'kubernetes-models/v1/Namespace'
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim'
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext'
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext'
import type { IService } from 'kubernetes-models/v1/Service'
import type { IVolume } from 'kubernetes-models/v1/Volume'
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount'
import { ROUTES, type ServiceName } from '@palisade/contracts'
import { HTTP_PORT, METRICS_PORT, SECRETS_DIR, type SETTINGS, type ServiceSpec } from './settings.js'

// What the generator's modules share: object types, labels, the restricted security context, env.
/** any Kubernetes object (or Helm values / Kustomization document) the generator writes */
export type Manifest = object
/** the Kubernetes objects the generator writes, each checked by tsc against the API's interface */
export type K8sObject = IDeployment | IService | IPodDisruptionBudget | IPersistentVolumeClaim | INetworkPolicy | INamespace | IConfigMap | IJob | ICronJob

export const PART_OF = { 'app.kubernetes.io/part-of': 'palisade' }
/** pods that speak to NATS / PostgreSQL / receive traffic from the edge / expose metrics */
export const LABELS = {
  natsClient: 'palisade.dev/nats-client',
  dbClient: 'palisade.dev/db-client',
  routed: 'palisade.dev/routed',
  metrics: 'palisade.dev/metrics'
} as const
export const NATS_POD = { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/instance': 'nats' }
export const EDGE_POD = { 'app.kubernetes.io/name': 'traefik' }
export const nameOf = (name: string) => ({ 'app.kubernetes.io/name': name })

/** The restricted Pod Security profile, container level. */
export const CONTAINER_SECURITY: ISecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' }
}

export function podSecurity(uid: number): IPodSecurityContext {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } }
}

export const tmpVolume: IVolume = { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }
export const tmpMount: IVolumeMount = { name: 'tmp', mountPath: '/tmp' }

export function routedServices(): Set<ServiceName> {
  return new Set(ROUTES.map((r) => r.service))
}

export function commonEnv(spec: ServiceSpec): IEnvVar[] {
  const setting = (key: keyof typeof SETTINGS) => ({ name: key, valueFrom: { configMapKeyRef: { name: 'palisade-settings', key } } })
  const env: IEnvVar[] = [
    { name: 'NODE_ENV', value: 'production' },
    { name: 'HOST', value: '0.0.0.0' },
    { name: 'PORT', value: String(HTTP_PORT) },
    // the metrics listener defaults to loopback; Prometheus scrapes it from the monitoring namespace
    { name: 'METRICS_HOST', value: '0.0.0.0' },
    { name: 'METRICS_PORT', value: String(METRICS_PORT) },
    setting('LOG_LEVEL'),
    setting('OTEL_EXPORTER_OTLP_ENDPOINT')
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

export function policy(name: string, podSelector: INetworkPolicySpec['podSelector'], spec: Omit<INetworkPolicySpec, 'podSelector'>): INetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, labels: PART_OF }, spec: { podSelector, ...spec } }
}

export const label = (key: string) => ({ matchLabels: { [key]: 'true' } })

export const tcp = (port: number | string) => ({ protocol: 'TCP', port }) as const

export function namespace(name: string): INamespace {
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

export function kustomization(body: Manifest): Manifest {
  return { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', ...body }
}
