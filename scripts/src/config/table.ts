// The configuration table of README.md, built from the services' own ConfigSchemas (defaults) and
// the doc comments beside each variable in their config.ts files. `pnpm config:table` prints it; a
// test fails when README.md's table is not exactly this.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { REPO_ROOT } from '../lib/paths.js'
import { STACK_SERVICES, isRunnable, serviceDir } from '../stack/services.js'

interface Row {
  name: string
  services: string[]
  default: string
  secret: boolean
  doc: string
}

const SECRET = /(PASSWORD|SECRET|_KEYS|_KEY|DATABASE_URL|PROVIDERS)$/

/** `NAME: Type...` preceded by a `/** ... *\/` or `// ...` comment → doc text. */
function docComments(source: string): Map<string, string> {
  const docs = new Map<string, string>()
  const re = /((?:\/\*\*(?:(?!\*\/)[\s\S])*\*\/|(?:^[ \t]*\/\/[^\n]*\n)+)\s*)?\b([A-Z][A-Z0-9_]{2,}):\s*(?:Type\.|[a-z]\w*\(|BaseConfigSchema)/gm
  for (const m of source.matchAll(re)) {
    const raw = m[1] ?? ''
    const text = raw
      .replace(/\/\*\*|\*\/|^\s*\*\s?|^\s*\/\/\s?/gm, '')
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/\s*\/$/, '') // the `/` of a closing `*/` on a line of its own
    if (text && !docs.has(m[2]!)) docs.set(m[2]!, text)
  }
  return docs
}

/** Meaning of the shared settings whose schema carries no comment. */
const BASE_DOCS: Record<string, string> = {
  NODE_ENV: '`production` refuses unsafe fallbacks (e.g. auth without signing keys)',
  HOST: 'address the service listens on (`0.0.0.0` in containers)',
  PORT: 'port the service listens on (0 = any free port)',
  LOG_LEVEL: 'pino level; secrets, cookies and tokens are redacted at every level',
  DATABASE_URL: "the service's own role: `postgres://<role>:<password>@host/db`",
  NATS_URL: 'NATS server(s), comma separated',
  NATS_USER: "the service's NATS user (deploy/nats/nats.conf has one per service)",
  NATS_PASSWORD: "that user's password"
}

function show(v: unknown): string {
  if (v === undefined) return '—'
  if (v === '') return '(empty)'
  return `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``
}

/** The Markdown table (header, separator, one row per variable), newline-terminated. */
export async function renderConfigTable(): Promise<string> {
  const rows = new Map<string, Row>()
  let configured = 0
  const baseDocs = docComments(readFileSync(join(REPO_ROOT, 'libs', 'platform', 'src', 'config.ts'), 'utf8'))
  for (const svc of STACK_SERVICES) {
    if (!isRunnable(svc.name)) continue
    const mod = (await import(pathToFileURL(join(serviceDir(svc.name), 'src', 'app.ts')).href)) as Record<string, unknown>
    const schemaKey = Object.keys(mod).find((k) => k.endsWith('ConfigSchema'))
    if (!schemaKey) continue
    configured++
    const schema = mod[schemaKey] as { properties: Record<string, { default?: unknown }>; required?: string[] }
    let docs = new Map<string, string>()
    try {
      docs = docComments(readFileSync(join(serviceDir(svc.name), 'src', 'config.ts'), 'utf8'))
    } catch {}
    for (const [name, prop] of Object.entries(schema.properties)) {
      const row = rows.get(name) ?? {
        name,
        services: [],
        default: show(prop.default),
        secret: SECRET.test(name),
        doc: docs.get(name) ?? baseDocs.get(name) ?? BASE_DOCS[name] ?? ''
      }
      row.services.push(svc.name)
      if (!row.doc) row.doc = docs.get(name) ?? ''
      if (prop.default === undefined && schema.required?.includes(name)) row.default = 'required'
      rows.set(name, row)
    }
  }
  const all = [...rows.values()].sort((a, b) =>
    a.services.length === b.services.length ? a.name.localeCompare(b.name) : b.services.length - a.services.length
  )
  const lines = ['| variable | services | default | secret | meaning |', '|---|---|---|---|---|']
  for (const r of all) {
    const who = r.services.length === configured ? 'all' : r.services.join(', ')
    lines.push(`| \`${r.name}\` | ${who} | ${r.default} | ${r.secret ? 'yes (`_FILE`)' : 'no'} | ${r.doc.replace(/\|/g, '\\|')} |`)
  }
  return `${lines.join('\n')}\n`
}
