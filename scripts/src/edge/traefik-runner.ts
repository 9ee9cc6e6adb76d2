import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { which } from '../lib/which.js'
import { join } from 'node:path'
import type { Route, ServiceName } from '@palisade/contracts'
import { buildDynamicConfig, buildStaticConfig, renderYaml, type TraefikTarget } from '../traefik/config.js'

/** The `traefik` binary on PATH, if any. */
export function findTraefik(): string | undefined {
  return which('traefik')
}

export interface LocalTraefik {
  url: string
  process: ChildProcess
  stop(): Promise<void>
}

/**
 * Real Traefik on one loopback port with the generated configuration in `local` mode: the same
 * routers and middlewares as deploy/traefik/, plain HTTP, services on 127.0.0.1 ports. A service
 * that does not run points at a closed port (Traefik answers 502, like the local edge).
 */
export async function startLocalTraefik(opts: {
  binary: string
  dir: string
  port: number
  pingPort: number
  upstreams: Partial<Record<ServiceName, string | readonly string[]>>
  authVerifyUrl: string
  /** the route table with this stack's limits (routesFor) */
  routes?: readonly Route[]
  /** OTLP/HTTP collector for Traefik's spans (OTEL_EXPORTER_OTLP_ENDPOINT); unset: none */
  otlpEndpoint?: string | undefined
  onExit?: (code: number | null) => void
}): Promise<LocalTraefik> {
  mkdirSync(opts.dir, { recursive: true })
  const dynamicFile = join(opts.dir, 'dynamic.yml')
  const target: TraefikTarget = {
    mode: 'local',
    serviceUrl: (s) => opts.upstreams[s] ?? 'http://127.0.0.1:1',
    authVerifyUrl: opts.authVerifyUrl,
    listen: `127.0.0.1:${opts.port}`,
    pingListen: `127.0.0.1:${opts.pingPort}`,
    dynamicFile
  }
  writeFileSync(dynamicFile, renderYaml('dynamic configuration, local launcher', buildDynamicConfig(target, opts.routes)))
  const staticFile = join(opts.dir, 'traefik.yml')
  writeFileSync(staticFile, renderYaml('static configuration, local launcher', buildStaticConfig(target, { otlpEndpoint: opts.otlpEndpoint })))
  const child = spawn(opts.binary, [`--configFile=${staticFile}`], { stdio: ['ignore', 'ignore', 'inherit'] })
  let exited = false
  child.once('exit', (code) => {
    exited = true
    opts.onExit?.(code)
  })
  const deadline = Date.now() + 15_000
  for (;;) {
    if (exited) throw new Error('traefik exited during start-up')
    try {
      const r = await fetch(`http://127.0.0.1:${opts.pingPort}/ping`)
      if (r.ok) break
    } catch {}
    if (Date.now() > deadline) throw new Error('traefik did not answer /ping within 15 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url: `http://127.0.0.1:${opts.port}`,
    process: child,
    async stop() {
      if (child.exitCode !== null || exited) return
      const done = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await done
    }
  }
}
