import type { ServiceName } from '@palisade/contracts'

/**
 * What the Kubernetes manifests need to know about each service beyond the route table and the
 * NATS contracts: the same per-service settings deploy/compose.yml gives it (scripts/test/
 * kubernetes.test.ts checks that every variable compose sets is set here too).
 */
export interface ServiceSpec {
  name: ServiceName
  /** files mounted from the service's Secret `palisade-<name>` at /run/secrets/<file> */
  secrets: Record<string, string>
  /** environment beyond the common one; values are literals or keys of the palisade-settings ConfigMap */
  env: Record<string, string | { setting: SettingName }>
  /** connects to NATS as its own user (every service but the static web server) */
  nats: boolean
  /** has its own PostgreSQL role and schema */
  database: boolean
  resources: { cpu: string; memory: string; memoryLimit: string }
  /** a writable volume: the files service's blob store */
  dataVolume?: { mountPath: string; claim: string; size: string }
}

/** The overlay-tunable settings, one ConfigMap (`palisade-settings`) every pod reads its keys from. */
export const SETTINGS = {
  ALLOWED_ORIGINS: 'https://palisade.example.com',
  AUTH_WEBAUTHN_ORIGIN: 'https://palisade.example.com',
  AUTH_REGISTRATION: 'invite',
  AUTH_REQUIRE_MFA: 'admins',
  LOG_LEVEL: 'info',
  // The pods' network: NetworkPolicies let only Traefik's pods reach a service's port, so the only
  // peer in this range a service ever sees is the edge. Overlays set their cluster's pod CIDR.
  TRUSTED_PROXIES: '10.244.0.0/16',
  // Traces: empty is off. An overlay that sets a collector also allows egress to it (the base
  // NetworkPolicies let services reach NATS and PostgreSQL only; overlays/example shows both).
  OTEL_EXPORTER_OTLP_ENDPOINT: ''
} as const
export type SettingName = keyof typeof SETTINGS

export const HTTP_PORT = 3000
/** the internal metrics listener (METRICS_PORT); Traefik never routes it */
export const METRICS_PORT = 9464
export const SECRETS_DIR = '/run/secrets'
export const FILES_DIR = '/var/lib/palisade/files'

const nats = (s: string) => ({ [`${s}_nats_password`]: 'NATS_PASSWORD_FILE' })
const db = (s: string) => ({ [`${s}_database_url`]: 'DATABASE_URL_FILE' })

export const SERVICE_SPECS: readonly ServiceSpec[] = [
  {
    name: 'auth',
    secrets: { ...nats('auth'), ...db('auth'), auth_signing_keys: 'AUTH_SIGNING_KEYS_FILE', auth_mfa_key: 'AUTH_MFA_KEY_FILE' },
    env: {
      AUTH_WEBAUTHN_ORIGIN: { setting: 'AUTH_WEBAUTHN_ORIGIN' },
      AUTH_REGISTRATION: { setting: 'AUTH_REGISTRATION' },
      AUTH_REQUIRE_MFA: { setting: 'AUTH_REQUIRE_MFA' }
    },
    nats: true,
    database: true,
    resources: { cpu: '250m', memory: '256Mi', memoryLimit: '512Mi' }
  },
  { name: 'gateway', secrets: nats('gateway'), env: {}, nats: true, database: false, resources: { cpu: '250m', memory: '256Mi', memoryLimit: '512Mi' } },
  {
    name: 'chat',
    secrets: { ...nats('chat'), ...db('chat') },
    env: {},
    nats: true,
    database: true,
    resources: { cpu: '250m', memory: '256Mi', memoryLimit: '512Mi' }
  },
  {
    name: 'files',
    secrets: { ...nats('files'), ...db('files'), files_keys: 'FILES_KEYS_FILE' },
    env: { FILES_STORAGE_DIR: FILES_DIR },
    nats: true,
    database: true,
    resources: { cpu: '250m', memory: '256Mi', memoryLimit: '768Mi' },
    dataVolume: { mountPath: FILES_DIR, claim: 'files-data', size: '50Gi' }
  },
  {
    name: 'agents',
    secrets: { ...nats('agents'), ...db('agents') },
    env: {},
    nats: true,
    database: true,
    resources: { cpu: '250m', memory: '256Mi', memoryLimit: '512Mi' }
  },
  { name: 'web', secrets: {}, env: {}, nats: false, database: false, resources: { cpu: '50m', memory: '64Mi', memoryLimit: '128Mi' } }
]

/** The example overlay (deploy/kubernetes/overlays/example): what a real installation changes. */
export const EXAMPLE_OVERLAY = {
  namespace: 'palisade',
  origin: 'https://chat.example.com',
  registry: 'registry.example.com/palisade',
  tag: '0.1.0',
  podCidr: '10.42.0.0/16',
  /** where the agents service may connect: its configured model providers (RFC 5737 examples) */
  agentsEgress: [
    { name: 'model-provider', cidr: '203.0.113.10/32', port: 443 },
    { name: 'self-hosted-llm', cidr: '198.51.100.0/28', port: 8443 }
  ],
  replicas: { chat: 3, gateway: 3 } as Record<string, number>,
  /** an OpenTelemetry collector (OTLP/HTTP) in the monitoring namespace: traces on, and the one egress they need */
  traces: {
    endpoint: 'http://otel-collector.monitoring.svc:4318',
    collector: { 'app.kubernetes.io/name': 'opentelemetry-collector' } as Record<string, string>,
    port: 4318
  }
}

/** Pinned like the compose images (same tags and digests). */
export const TRAEFIK_IMAGE = 'traefik:3.7.12@sha256:5447d0eaf375d832b8f224f88db0e80c0a2d44554fc973e3ba72c3a52946cfcc'
export const NATS_CHART = { repo: 'https://nats-io.github.io/k8s/helm/charts/', name: 'nats/nats', version: '2.14.2' }
/** The PostgreSQL cluster (CloudNativePG example in docs/deploy-kubernetes.md): namespace and Cluster name. */
export const POSTGRES = { namespace: 'palisade-db', cluster: 'palisade-db', port: 5432 }
/** The namespace Prometheus scrapes from. */
export const MONITORING_NAMESPACE = 'monitoring'
