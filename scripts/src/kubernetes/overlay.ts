import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { EXAMPLE_OVERLAY, MONITORING_NAMESPACE, SERVICE_SPECS } from './settings.js'
import { kustomization, nameOf, policy, tcp, type Manifest } from './common.js'

/**
 * deploy/kubernetes/overlays/example: what an installation changes on top of the base — images,
 * origin, pod CIDR, replicas, and the only egress beyond NATS and PostgreSQL: the agents' model
 * providers and the trace collector.
 */
export function exampleOverlay(): { kustomization: Manifest; agentsEgress: INetworkPolicy[]; tracesEgress: INetworkPolicy[] } {
  const o = EXAMPLE_OVERLAY
  return {
    kustomization: kustomization({
      namespace: o.namespace,
      resources: ['../../base', 'agents-egress.yaml', 'traces-egress.yaml'],
      images: SERVICE_SPECS.map((s) => ({ name: `palisade/${s.name}`, newName: `${o.registry}/${s.name}`, newTag: o.tag })),
      replicas: Object.entries(o.replicas).map(([name, count]) => ({ name, count })),
      configMapGenerator: [
        {
          name: 'palisade-settings',
          behavior: 'merge',
          literals: [
            `ALLOWED_ORIGINS=${o.origin}`,
            `AUTH_WEBAUTHN_ORIGIN=${o.origin}`,
            `TRUSTED_PROXIES=${o.podCidr}`,
            `OTEL_EXPORTER_OTLP_ENDPOINT=${o.traces.endpoint}`
          ]
        }
      ]
    }),
    agentsEgress: [
      policy(
        'agents-providers-egress',
        { matchLabels: nameOf('agents') },
        {
          policyTypes: ['Egress'],
          egress: o.agentsEgress.map((p) => ({ to: [{ ipBlock: { cidr: p.cidr } }], ports: [tcp(p.port)] }))
        }
      )
    ],
    tracesEgress: [
      policy(
        'traces-egress',
        { matchLabels: { 'app.kubernetes.io/component': 'service' } },
        {
          policyTypes: ['Egress'],
          egress: [
            {
              to: [
                {
                  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': MONITORING_NAMESPACE } },
                  podSelector: { matchLabels: o.traces.collector }
                }
              ],
              ports: [tcp(o.traces.port)]
            }
          ]
        }
      )
    ]
  }
}
