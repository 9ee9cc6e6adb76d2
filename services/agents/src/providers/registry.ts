import { readFileSync } from 'node:fs'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { ConfigError } from '@palisade/platform'
import { LocalProvider, LOCAL_PROVIDER_ID } from './local.js'
import { OpenAiCompatibleProvider } from './openai.js'
import type { Provider } from './types.js'

const ProviderConfigSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_-]*$' }),
    kind: Type.Literal('openai-compatible'),
    baseUrl: Type.String({ minLength: 8, maxLength: 2048 }),
    /** path of the file holding the API key (a compose/Kubernetes secret) */
    apiKeyFile: Type.String({ minLength: 1, maxLength: 4096 }),
    models: Type.Array(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/@-]*$' }), {
      minItems: 1,
      maxItems: 100,
      uniqueItems: true
    })
  },
  { additionalProperties: false }
)
const ProvidersConfigSchema = Type.Array(ProviderConfigSchema, { maxItems: 32 })
export type ProviderConfig = Static<typeof ProviderConfigSchema>

export interface ProviderRegistryOptions {
  providersJson: string
  local: boolean
  localTokenDelayMs: number
  defaultProvider: string
}

function checkBaseUrl(id: string, raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(`AGENTS_PROVIDERS: provider ${id}: baseUrl is not a URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`AGENTS_PROVIDERS: provider ${id}: baseUrl must be http(s)`)
  if (url.username || url.password) throw new ConfigError(`AGENTS_PROVIDERS: provider ${id}: baseUrl must not carry credentials (use apiKeyFile)`)
  if (url.search || url.hash) throw new ConfigError(`AGENTS_PROVIDERS: provider ${id}: baseUrl must not have a query or fragment`)
  return url.toString()
}

/**
 * The providers operations configured. Users only ever name one by id; the URL and key never leave
 * this object (no API returns them, and the key is read from its file here and nowhere else).
 */
export class ProviderRegistry {
  private readonly byId = new Map<string, Provider>()
  readonly defaultId: string

  constructor(opts: ProviderRegistryOptions) {
    if (opts.local) this.byId.set(LOCAL_PROVIDER_ID, new LocalProvider(opts.localTokenDelayMs))
    let parsed: unknown
    try {
      parsed = JSON.parse(opts.providersJson)
    } catch {
      throw new ConfigError('AGENTS_PROVIDERS is not valid JSON')
    }
    if (!Value.Check(ProvidersConfigSchema, parsed)) {
      const first = [...Value.Errors(ProvidersConfigSchema, parsed)][0]
      // Name the place, never the value: a misplaced key must not be echoed into a log.
      const path = first?.instancePath || '/'
      const why =
        first?.message === 'schema is false'
          ? /\/apiKey$/.test(path)
            ? 'keys are only read from apiKeyFile'
            : 'unknown property'
          : (first?.message ?? 'invalid')
      throw new ConfigError(`AGENTS_PROVIDERS is invalid at ${path}: ${why}`)
    }
    for (const p of parsed) {
      if (this.byId.has(p.id)) throw new ConfigError(`AGENTS_PROVIDERS: duplicate provider id ${p.id}`)
      let apiKey: string
      try {
        apiKey = readFileSync(p.apiKeyFile, 'utf8').trim()
      } catch (err) {
        throw new ConfigError(`AGENTS_PROVIDERS: provider ${p.id}: cannot read apiKeyFile (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      }
      if (!apiKey || /[\r\n]/.test(apiKey)) throw new ConfigError(`AGENTS_PROVIDERS: provider ${p.id}: apiKeyFile must hold one non-empty line`)
      this.byId.set(p.id, new OpenAiCompatibleProvider({ id: p.id, baseUrl: checkBaseUrl(p.id, p.baseUrl), models: p.models, apiKey }))
    }
    if (!this.byId.has(opts.defaultProvider)) throw new ConfigError(`AGENTS_DEFAULT_PROVIDER: no provider ${opts.defaultProvider} is configured`)
    this.defaultId = opts.defaultProvider
  }

  get(id: string): Provider | undefined {
    return this.byId.get(id)
  }

  list(): Provider[] {
    return [...this.byId.values()]
  }

  /** Scrubs every configured key out of a text (for errors that reach logs or run records). */
  redact(text: string): string {
    let out = text
    for (const p of this.byId.values()) if (p instanceof OpenAiCompatibleProvider) out = p.redact(out)
    return out
  }
}
