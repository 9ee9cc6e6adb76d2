import type { IEnvVar } from 'kubernetes-models/v1/EnvVar'
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec'
import type { IVolume } from 'kubernetes-models/v1/Volume'
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount'
import { EXAMPLE_OVERLAY, POSTGRES, SECRETS_DIR, SERVICE_SPECS } from './settings.js'
import { CONTAINER_SECURITY, LABELS, PART_OF, podSecurity, tmpMount, tmpVolume, type K8sObject } from './common.js'

/** One-shot and scheduled jobs of the scripts image: provisioning the database, nightly backups. */
export function jobs(): Record<string, K8sObject[]> {
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
