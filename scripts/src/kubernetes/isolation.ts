import type { IJob } from 'kubernetes-models/batch/v1/Job'
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IVolume } from 'kubernetes-models/v1/Volume'
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount'
import { APP_SERVICES } from '@palisade/contracts'
import { EXAMPLE_OVERLAY, HTTP_PORT, METRICS_PORT, POSTGRES, SERVICE_SPECS, SETTINGS } from './settings.js'
import { CONTAINER_SECURITY, label, LABELS, namespace, nameOf, PART_OF, podSecurity, policy, tcp, tmpMount, tmpVolume, type K8sObject } from './common.js'

/** The attacker and client probes of the isolation suite, as Jobs (no cluster here: documented). */
export function isolation(): Record<string, K8sObject[]> {
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
