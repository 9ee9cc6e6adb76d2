import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { SERVICE_NAMES } from '@palisade/contracts'
import { DEPLOY_DIR } from '../src/lib/paths.js'
import { LABELS } from '../src/kubernetes/manifests.js'
import { EXAMPLE_OVERLAY, METRICS_PORT } from '../src/kubernetes/settings.js'
import { STACK_SERVICES } from '../src/stack/services.js'

// The Grafana dashboard and the Prometheus scrape configurations in deploy/ must only use the
// metrics the services export (names and labels as agreed with the metrics work) and scrape
// exactly the listeners the deployments open.
const METRICS: Record<string, { labels: string[]; histogram?: true }> = {
  palisade_http_requests_total: { labels: ['service', 'method', 'route', 'status_code'] },
  palisade_http_request_duration_seconds: { labels: ['service', 'method', 'route', 'status_code'], histogram: true },
  palisade_nats_request_duration_seconds: { labels: ['service', 'subject'], histogram: true },
  palisade_gateway_sockets_open: { labels: [] },
  palisade_gateway_frames_total: { labels: ['direction'] },
  palisade_auth_verify_total: { labels: ['outcome', 'reason'] },
  palisade_auth_logins_total: { labels: ['outcome'] },
  palisade_auth_mfa_total: { labels: ['method', 'outcome'] },
  palisade_auth_bruteforce_blocks_total: { labels: ['scope'] },
  palisade_agent_runs_total: { labels: ['outcome'] },
  palisade_agent_tokens_total: { labels: ['kind'] },
  palisade_agent_tool_calls_total: { labels: ['tool', 'outcome'] },
  palisade_files_upload_bytes_total: { labels: [] },
  palisade_outbox_lag_seconds: { labels: ['service'] },
  palisade_outbox_pending: { labels: ['service'] }
}
/** Grafana's syntax for the dashboard's data source variable (not a JavaScript template) */
const GRAFANA_DATASOURCE_VARIABLE = ['$', '{datasource}'].join('')
const PROMQL_WORDS = new Set(['sum', 'max', 'min', 'avg', 'count', 'by', 'without', 'rate', 'increase', 'histogram_quantile', 'label_values', 'le'])

interface Use {
  metric: string
  labels: string[]
}

/** The metrics a PromQL expression reads and the labels it names (matchers, by/without lists). */
function promqlUses(expr: string): { uses: Use[]; grouped: string[]; unknown: string[] } {
  const uses: Use[] = []
  const unknown: string[] = []
  const grouped: string[] = []
  let text = expr.replace(/\$__rate_interval|\$\w+/g, '').replace(/\[[^\]]*\]/g, '')
  // Grafana's label_values(metric, label): the label belongs to the metric like a `by` list
  text = text.replace(/label_values\(\s*([^,\s]+)\s*,\s*(\w+)\s*\)/g, (_m, metric: string, label: string) => `${metric} by (${label})`)
  for (const m of text.matchAll(/\b(by|without)\s*\(([^)]*)\)/g))
    grouped.push(
      ...m[2]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    )
  const stripped = text.replace(/\b(by|without)\s*\([^)]*\)/g, '')
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?/g)) {
    const name = m[1]!
    if (PROMQL_WORDS.has(name)) continue
    if (/^\d/.test(name)) continue
    const labels = [...(m[3] ?? '').matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)/g)].map((x) => x[1]!)
    if (name.startsWith('palisade_')) uses.push({ metric: name, labels })
    else unknown.push(name)
  }
  return { uses, grouped, unknown }
}

function base(metric: string): { name: string; spec?: (typeof METRICS)[string]; suffix?: string } {
  if (METRICS[metric]) return { name: metric, spec: METRICS[metric] }
  const m = /^(.*)_(bucket|sum|count)$/.exec(metric)
  if (m && METRICS[m[1]!]?.histogram) return { name: m[1]!, spec: METRICS[m[1]!], suffix: m[2] }
  return { name: metric }
}

const dashboard = JSON.parse(readFileSync(join(DEPLOY_DIR, 'grafana', 'palisade.json'), 'utf8')) as {
  uid: string
  panels: { id: number; type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[]
  templating: { list: { name: string; query: unknown }[] }
}

t.test('the dashboard reads only the exported metrics, with their labels', async (t) => {
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => ({ panel: p.title, expr: x.expr })))
  for (const v of dashboard.templating.list) {
    const q = typeof v.query === 'object' && v.query ? (v.query as { query: string }).query : ''
    if (q.includes('(')) exprs.push({ panel: `variable ${v.name}`, expr: q })
  }
  t.ok(exprs.length >= 20, `${exprs.length} queries`)
  const seen = new Set<string>()
  for (const { panel, expr } of exprs) {
    const { uses, grouped, unknown } = promqlUses(expr)
    t.same(unknown, [], `${panel}: no name outside palisade_* and PromQL (${expr})`)
    t.ok(uses.length > 0, `${panel}: reads a metric`)
    const labels = new Set<string>()
    for (const u of uses) {
      const b = base(u.metric)
      t.ok(b.spec, `${panel}: ${u.metric} is exported`)
      if (!b.spec) continue
      seen.add(b.name)
      if (b.spec.histogram) t.ok(b.suffix, `${panel}: histogram ${b.name} read through _bucket/_sum/_count`)
      for (const l of [...b.spec.labels, ...(b.suffix === 'bucket' ? ['le'] : [])]) labels.add(l)
      for (const l of u.labels) t.ok(b.spec.labels.includes(l), `${panel}: ${b.name} has label ${l}`)
    }
    for (const l of grouped) t.ok(labels.has(l), `${panel}: grouped by ${l}, a label of what it reads`)
  }
  t.same([...seen].sort(), Object.keys(METRICS).sort(), 'every exported metric has a panel')
  const ids = dashboard.panels.map((p) => p.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  for (const p of dashboard.panels.filter((p) => p.type !== 'row'))
    t.equal(p.datasource?.uid, GRAFANA_DATASOURCE_VARIABLE, `${p.title}: the data source variable`)
})

t.test('the PromQL reader itself catches a stray metric or label', async (t) => {
  t.same(promqlUses('sum by (service) (rate(node_cpu_seconds_total[5m]))').unknown, ['node_cpu_seconds_total'])
  t.same(promqlUses('rate(palisade_auth_logins_total{user_id="x"}[5m])').uses, [{ metric: 'palisade_auth_logins_total', labels: ['user_id'] }])
  t.same(promqlUses('sum by (tenant) (palisade_outbox_pending)').grouped, ['tenant'])
})

t.test('the scrape configurations hit exactly the metrics listeners', async (t) => {
  const read = (name: string) => parse(readFileSync(join(DEPLOY_DIR, 'prometheus', name), 'utf8')) as any
  const compose = read('compose.yml').scrape_configs[0]
  t.same(
    compose.static_configs[0].targets,
    SERVICE_NAMES.map((s) => `${s}:${METRICS_PORT}`),
    'compose: every service on 9464'
  )
  const services = (
    parse(readFileSync(join(DEPLOY_DIR, 'compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, string> }> }
  ).services
  for (const s of SERVICE_NAMES) {
    t.equal(services[s]?.environment?.METRICS_HOST, '0.0.0.0', `compose: ${s} serves metrics on its internal address`)
    t.equal(services[s]?.environment?.METRICS_PORT, String(METRICS_PORT), `compose: ${s} metrics on ${METRICS_PORT}`)
  }
  const local = read('local.yml').scrape_configs[0]
  const byApp = Object.fromEntries(local.static_configs.map((c: { targets: string[]; labels: { app: string } }) => [c.labels.app, c.targets[0]]))
  t.equal(byApp.edge, `127.0.0.1:${METRICS_PORT}`, 'local: the edge on the base port')
  for (const s of STACK_SERVICES) t.equal(byApp[s.name], `127.0.0.1:${METRICS_PORT + s.portOffset}`, `local: ${s.name} on base + its offset`)
  const k8s = read('kubernetes.yml').scrape_configs[0]
  t.same(k8s.kubernetes_sd_configs[0].namespaces.names, [EXAMPLE_OVERLAY.namespace])
  const keep = k8s.relabel_configs.filter((r: { action?: string }) => r.action === 'keep')
  t.same(
    keep.map((r: { source_labels: string[] }) => r.source_labels[0]),
    [`__meta_kubernetes_pod_label_${LABELS.metrics.replace(/[^a-zA-Z0-9]/g, '_')}`, '__meta_kubernetes_pod_container_port_name'],
    'kubernetes: pods with the metrics label, on the port named metrics'
  )
})
