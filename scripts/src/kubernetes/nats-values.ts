import { APP_SERVICES, type AppServiceName } from '@palisade/contracts'
import { collectContracts, passwordVariable, permissionsFor, PASSWORDS_INCLUDE } from '../nats/config.js'
import { CONTAINER_SECURITY, podSecurity, type Manifest } from './common.js'

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
