/**
 * A service started as its own process from `services/<name>/src/server.ts`, the way the launcher
 * starts it: tests and benchmarks reach another service by path, never by importing its sources.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '@palisade/platform/testing'

/** The repository root (this file sits three levels down, in src/ or dist/). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..')

export interface ServiceProcess {
  url: string
  child: ChildProcess
  pid: number
  stop(): Promise<void>
}

export interface ServiceProcessOptions {
  /** node flags before the script (`--cpu-prof` to profile the service under a bench's load) */
  nodeArgs?: readonly string[]
  /** where the service's stdout (its pino log) goes; dropped when not given */
  logStream?: NodeJS.WritableStream
  /** the entry point, relative to the service's directory (a test fixture wrapping the app); default src/server.ts */
  script?: string
}

/**
 * Starts `services/<name>/src/server.ts` with `env` (plus PATH, HOST, PORT) and waits for /readyz.
 * Its environment is `env` alone: nothing of the test process's configuration leaks in.
 */
export async function startServiceProcess(name: string, env: Record<string, string>, opts: ServiceProcessOptions = {}): Promise<ServiceProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--conditions=development', '--import=tsx', opts.script ?? join('src', 'server.ts')], {
    cwd: join(REPO_ROOT, 'services', name),
    // METRICS_PORT 0: several services of a test share the host, none may take the default port.
    env: { NODE_ENV: 'development', LOG_LEVEL: 'warn', METRICS_PORT: '0', ...env, PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', opts.logStream ? 'pipe' : 'ignore', 'pipe']
  })
  if (opts.logStream) child.stdout!.pipe(opts.logStream, { end: false })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  // A test process that dies without its teardown (a tap timeout) must not leave the service behind.
  const orphanGuard = () => child.kill('SIGKILL')
  process.once('exit', orphanGuard)
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${name} service exited with ${code}: ${stderr}`))))
  exited.catch(() => {})
  const url = `http://127.0.0.1:${port}`
  // tsx compiles the service on start; on a loaded 2-core machine that alone can pass 30 s.
  const deadline = Date.now() + 60_000
  for (;;) {
    const ready = await fetch(`${url}/readyz`)
      .then((r) => r.ok)
      .catch(() => false)
    if (ready) break
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL')
      process.removeListener('exit', orphanGuard)
      throw new Error(`${name} service did not become ready: ${stderr}`)
    }
    await Promise.race([sleep(100), exited])
  }
  return {
    url,
    child,
    pid: child.pid!,
    async stop() {
      process.removeListener('exit', orphanGuard)
      if (child.exitCode !== null || child.signalCode !== null) return
      const done = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await done
    }
  }
}
