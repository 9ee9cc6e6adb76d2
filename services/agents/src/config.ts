import { Type, type Static } from 'typebox'
import { BaseConfigSchema, type ConfigInput } from '@palisade/platform'

/**
 * Agents configuration. Everything about providers is set by operations: users choose a provider
 * id, never a URL or a key. `AGENTS_PROVIDERS` (usually given as `AGENTS_PROVIDERS_FILE`) is a JSON
 * array of `{ id, kind: "openai-compatible", baseUrl, apiKeyFile, models }`; each key is read from
 * its own secret file at start and kept only in memory.
 */
export const AgentsConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /** JSON list of OpenAI-compatible providers `[{id, kind: "openai-compatible", baseUrl, apiKeyFile, models}]`; key *files*, never keys */
  AGENTS_PROVIDERS: Type.String({ default: '[]', maxLength: 65_536 }),
  /** offer the built-in deterministic offline provider `local` */
  AGENTS_LOCAL_PROVIDER: Type.Boolean({ default: true }),
  /** provider used when an agent names none */
  AGENTS_DEFAULT_PROVIDER: Type.String({ default: 'local', minLength: 1, maxLength: 64 }),
  /** delay between tokens of the `local` provider (0 = as fast as possible) */
  AGENTS_LOCAL_TOKEN_DELAY_MS: Type.Integer({ minimum: 0, maximum: 10_000, default: 0 }),
  // Operator ceilings: an agent's own limits may only be lower.
  /** most model calls per run (ceiling; an agent's own limit may only be lower) */
  AGENTS_MAX_STEPS: Type.Integer({ minimum: 1, maximum: 50, default: 8 }),
  /** most tool calls per run (ceiling) */
  AGENTS_MAX_TOOL_CALLS: Type.Integer({ minimum: 0, maximum: 50, default: 8 }),
  /** longest single model call or tool call (ceiling) */
  AGENTS_CALL_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
  /** wall-clock limit of a run (ceiling) */
  AGENTS_RUN_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 120_000 }),
  /** output tokens per run (ceiling) */
  AGENTS_MAX_OUTPUT_TOKENS: Type.Integer({ minimum: 1, maximum: 200_000, default: 4096 }),
  /** runs of one user in progress at once (more: 429) */
  AGENTS_MAX_CONCURRENT_RUNS: Type.Integer({ minimum: 1, maximum: 1000, default: 2 }),
  /** runs one user may start per minute (more: 429 with Retry-After) */
  AGENTS_RUNS_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10 }),
  /** largest tool result handed to the model, in characters (longer ones are cut) */
  AGENTS_TOOL_OUTPUT_MAX_CHARS: Type.Integer({ minimum: 256, maximum: 1_000_000, default: 16_000 }),
  /** recent conversation shown to the model, in tokens (≈ 4 characters each; speakers named, marked untrusted); 0 = none */
  AGENTS_CONTEXT_TOKENS: Type.Integer({ minimum: 0, maximum: 100_000, default: 2000 }),
  /** once untrusted tool output reached the model, tools may only touch this conversation (prompt injection cannot steer them elsewhere) */
  AGENTS_STRICT_TOOL_FLOW: Type.Boolean({ default: true }),
  /** JSON list of MCP servers `[{id, url, tools, tokenFile?, egress?, timeoutMs?, maxCallsPerRun?}]` (Streamable HTTP); token *files*, never tokens */
  AGENTS_MCP_SERVERS: Type.String({ default: '[]', maxLength: 65_536 }),
  /** hosts `web.fetch` may reach: `host`, `*.domain` or `host:port`, comma-separated (default: none; bare hosts mean ports 80 and 443) */
  AGENTS_WEB_FETCH_HOSTS: Type.String({ default: '', maxLength: 8192 }),
  /** private, loopback, link-local or metadata addresses/CIDRs `web.fetch` may still connect to (default: none) */
  AGENTS_WEB_FETCH_PRIVATE_RANGES: Type.String({ default: '', maxLength: 4096 }),
  /** largest `web.fetch` response read, in bytes (more is cut) */
  AGENTS_WEB_FETCH_MAX_BYTES: Type.Integer({ minimum: 1024, maximum: 5 * 1024 * 1024, default: 5 * 1024 * 1024 }),
  /** one `web.fetch`, redirects and body included */
  AGENTS_WEB_FETCH_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 10_000, default: 10_000 }),
  /** tokens are batched into one `agent.run.delta` at most this often per run */
  AGENTS_DELTA_FLUSH_MS: Type.Integer({ minimum: 0, maximum: 1000, default: 5 }),
  /** a running run's heartbeat period; a run silent for 3 periods was orphaned by a crash */
  AGENTS_HEARTBEAT_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 5000 })
})
export type AgentsConfig = Static<typeof AgentsConfigSchema>

/** What the app plugin accepts: agents settings may be left out (tests, the launcher) and get their defaults. */
export type AgentsAppConfig = ConfigInput<AgentsConfig>
