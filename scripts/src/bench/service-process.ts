/**
 * A service started as its own process from `src/server.ts`, as the launcher starts it, so that a
 * bench measures it with a core and an event loop of its own (not shared with the load generator's
 * bookkeeping or the testkit stack) and can read its CPU time and memory from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '@palisade/platform/testing'
import { REPO_ROOT } from '../lib/paths.js'

export interface ServiceProcess {
  url: string
  child: ChildProcess
  pid: number
  stop(): Promise<void>
}

/**
 * Starts `services/<name>/src/server.ts` with `env` (plus PATH, HOST, PORT) and waits for /readyz.
 * `nodeArgs` go before the script (`--cpu-prof` to profile the service under a bench's load).
 */
export async function startServiceProcess(name: string, env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<ServiceProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [...nodeArgs, '--conditions=development', '--import=tsx', join('src', 'server.ts')], {
    cwd: join(REPO_ROOT, 'services', name),
    env: { NODE_ENV: 'development', LOG_LEVEL: 'warn', ...env, PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${name} service exited with ${code}`))))
  exited.catch(() => {})
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok).catch(() => false)
    if (ready) break
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL')
      throw new Error(`${name} service did not become ready`)
    }
    await Promise.race([sleep(100), exited])
  }
  return {
    url,
    child,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return
      const done = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await done
    }
  }
}

/** user + system CPU time of a process in microseconds (from /proc, clock ticks of 10 ms). */
export function procCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** A memory figure of a process from /proc/<pid>/status, in bytes. */
export function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}
