import { readFileSync } from 'node:fs'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { ConfigError } from '@palisade/platform'

const ServerSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z0-9][a-z0-9_-]*$' }),
    /** the server's Streamable HTTP endpoint */
    url: Type.String({ minLength: 8, maxLength: 2048 }),
    /** tool names of that server agents may list; nothing else of it is offered */
    tools: Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }), { minItems: 1, maxItems: 64, uniqueItems: true }),
    /** file holding a bearer token for the server (a secret), if it needs one */
    tokenFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    /** false only for a server inside the platform's own network; otherwise its tools are egress */
    egress: Type.Optional(Type.Boolean()),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000 })),
    /** calls of this server's tools per run */
    maxCallsPerRun: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 }))
  },
  { additionalProperties: false }
)
const ServersSchema = Type.Array(ServerSchema, { maxItems: 32 })
type ServerConfig = Static<typeof ServerSchema>

const DESCRIPTION_MAX = 1024
const SCHEMA_MAX_CHARS = 8192
/** text taken from one result before the run's own tool-output cap applies */
const RESULT_MAX_CHARS = 64 * 1024

export interface McpToolInfo {
  /** `mcp:<server>/<tool>` */
  ref: string
  /** function name offered to the model */
  fn: string
  server: string
  tool: string
  description: string
  parameters: Record<string, unknown>
  egress: boolean
}

export interface McpResult {
  isError: boolean
  truncated: boolean
  text: string
}

interface Server extends ServerConfig {
  token: string | undefined
  client: Promise<Client> | undefined
}

export const mcpRef = (server: string, tool: string) => `mcp:${server}/${tool}`
const fnName = (server: string, tool: string) => `mcp__${server}__${tool.replace(/\./g, '_')}`.slice(0, 64)

/**
 * The MCP servers operations configured (`AGENTS_MCP_SERVERS`), spoken to with the official SDK over
 * Streamable HTTP. Each server contributes only the tool names ops allowed; its descriptions, schemas
 * and results are untrusted input (capped, marked by the caller). One client per server, made on
 * first use and dropped after a failure so the next call reconnects.
 */
export class McpRegistry {
  private readonly servers = new Map<string, Server>()

  constructor(json: string) {
    let parsed: unknown
    try {
      parsed = JSON.parse(json)
    } catch {
      throw new ConfigError('AGENTS_MCP_SERVERS is not valid JSON')
    }
    if (!Value.Check(ServersSchema, parsed)) {
      const first = [...Value.Errors(ServersSchema, parsed)][0]
      throw new ConfigError(`AGENTS_MCP_SERVERS is invalid at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`)
    }
    for (const s of parsed) {
      if (this.servers.has(s.id)) throw new ConfigError(`AGENTS_MCP_SERVERS: duplicate server id ${s.id}`)
      let url: URL
      try {
        url = new URL(s.url)
      } catch {
        throw new ConfigError(`AGENTS_MCP_SERVERS: server ${s.id}: url is not a URL`)
      }
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) {
        throw new ConfigError(`AGENTS_MCP_SERVERS: server ${s.id}: url must be http(s) without credentials (use tokenFile)`)
      }
      let token: string | undefined
      if (s.tokenFile) {
        try {
          token = readFileSync(s.tokenFile, 'utf8').trim()
        } catch (err) {
          throw new ConfigError(`AGENTS_MCP_SERVERS: server ${s.id}: cannot read tokenFile (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
        }
        if (!token || /[\r\n]/.test(token)) throw new ConfigError(`AGENTS_MCP_SERVERS: server ${s.id}: tokenFile must hold one non-empty line`)
      }
      this.servers.set(s.id, { ...s, token, client: undefined })
    }
  }

  /** Every tool ops allowed, as agents name them. */
  list(): { ref: string; egress: boolean }[] {
    return [...this.servers.values()].flatMap((s) => s.tools.map((t) => ({ ref: mcpRef(s.id, t), egress: s.egress !== false })))
  }

  has(ref: string): boolean {
    return this.list().some((t) => t.ref === ref)
  }

  isEgress(ref: string): boolean {
    return this.list().some((t) => t.ref === ref && t.egress)
  }

  maxCallsPerRun(server: string): number {
    return this.servers.get(server)?.maxCallsPerRun ?? 8
  }

  private parse(ref: string): { server: Server; tool: string } | undefined {
    const m = /^mcp:([^/]+)\/(.+)$/.exec(ref)
    const server = m ? this.servers.get(m[1]!) : undefined
    return server?.tools.includes(m![2]!) ? { server, tool: m![2]! } : undefined
  }

  private connect(server: Server): Promise<Client> {
    if (!server.client) {
      const transport = new StreamableHTTPClientTransport(new URL(server.url), {
        requestInit: { headers: server.token ? { authorization: `Bearer ${server.token}` } : {}, redirect: 'error' }
      })
      const client = new Client({ name: 'palisade-agents', version: '1' })
      server.client = client.connect(transport, { timeout: server.timeoutMs ?? 10_000 }).then(() => client)
      server.client.catch(() => {
        server.client = undefined
      })
    }
    return server.client
  }

  private drop(server: Server): void {
    const c = server.client
    server.client = undefined
    void c?.then((client) => client.close()).catch(() => {})
  }

  /**
   * The listed tools of the servers these refs name, as the model will see them: the server's own
   * description (capped, labelled as the server's), its input schema (skipped when oversized).
   * A server that cannot be reached contributes nothing; the run goes on without its tools.
   */
  async describe(refs: readonly string[], signal: AbortSignal): Promise<{ tools: McpToolInfo[]; unavailable: string[] }> {
    const wanted = refs.map((r) => ({ ref: r, p: this.parse(r) })).filter((x) => x.p !== undefined)
    const byServer = new Map<Server, string[]>()
    for (const { p } of wanted) byServer.set(p!.server, [...(byServer.get(p!.server) ?? []), p!.tool])
    const tools: McpToolInfo[] = []
    const unavailable: string[] = []
    for (const [server, names] of byServer) {
      try {
        const client = await this.connect(server)
        const listed = await client.listTools(undefined, { timeout: server.timeoutMs ?? 10_000, signal })
        for (const t of listed.tools) {
          if (!names.includes(t.name)) continue
          const parameters = JSON.parse(JSON.stringify(t.inputSchema ?? { type: 'object' })) as Record<string, unknown>
          if (JSON.stringify(parameters).length > SCHEMA_MAX_CHARS) continue
          const own = (t.description ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, DESCRIPTION_MAX)
          tools.push({
            ref: mcpRef(server.id, t.name),
            fn: fnName(server.id, t.name),
            server: server.id,
            tool: t.name,
            description: `Tool of MCP server "${server.id}". Its description, written by that server (untrusted): ${own}`,
            parameters,
            egress: server.egress !== false
          })
        }
      } catch {
        if (signal.aborted) throw signal.reason
        this.drop(server)
        unavailable.push(server.id)
      }
    }
    return { tools, unavailable }
  }

  /** Calls one tool; results are text (other content kinds are named, not passed on). */
  async call(info: McpToolInfo, args: Record<string, unknown>, timeoutMs: number, signal: AbortSignal): Promise<McpResult> {
    const server = this.servers.get(info.server)!
    const timeout = Math.min(timeoutMs, server.timeoutMs ?? 10_000)
    let result: Awaited<ReturnType<Client['callTool']>>
    try {
      const client = await this.connect(server)
      result = await client.callTool({ name: info.tool, arguments: args }, undefined, { timeout, signal })
    } catch (err) {
      if (signal.aborted) throw signal.reason
      this.drop(server)
      throw err
    }
    const parts: string[] = []
    for (const c of (result.content ?? []) as { type: string; text?: string }[]) {
      parts.push(c.type === 'text' && typeof c.text === 'string' ? c.text : `[${String(c.type).slice(0, 32)} content left out]`)
    }
    let text = parts.join('\n')
    const truncated = text.length > RESULT_MAX_CHARS
    if (truncated) text = text.slice(0, RESULT_MAX_CHARS)
    return { isError: result.isError === true, truncated, text }
  }

  async close(): Promise<void> {
    for (const s of this.servers.values()) this.drop(s)
  }
}
