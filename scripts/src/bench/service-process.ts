/**
 * Benchmarks start the service they measure as its own process (testkit's `startServiceProcess`),
 * so it has a core and an event loop of its own (not shared with the load generator's bookkeeping
 * or the testkit stack) and its CPU time and memory can be read from /proc.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { startServiceProcess as startProcess, type ServiceProcess, type ServiceProcessOptions, type TeardownHost, type TestStack } from '@palisade/testkit'
import { SERVICE_NODE_FLAGS } from '../stack/services.js'

export type { ServiceProcess }

/**
 * `BENCH_CPU_PROF=files,chat` profiles those services under the bench's load: each writes a V8 CPU
 * profile (`--cpu-prof`) into `BENCH_CPU_PROF_DIR` (default: the current directory) when it stops (named with its pid).
 */
function profileFlags(name: string): string[] {
  const wanted = (process.env.BENCH_CPU_PROF ?? '').split(',').map((s) => s.trim())
  if (!wanted.includes(name)) return []
  return ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_CPU_PROF_DIR ?? '.')}`]
}

/** testkit's service process, with the V8 flags every deployed service runs with. */
export function startServiceProcess(name: string, env: Record<string, string>, opts: ServiceProcessOptions = {}): Promise<ServiceProcess> {
  return startProcess(name, env, { ...opts, nodeArgs: [...SERVICE_NODE_FLAGS, ...profileFlags(name), ...(opts.nodeArgs ?? [])] })
}

/**
 * A service on the testkit stack's database and NATS, as its own process with `settings` on top of
 * the stack's configuration; stopped on `host`'s teardown.
 */
export async function startStackService(
  host: TeardownHost,
  stack: TestStack,
  name: string,
  settings: Record<string, string | number> = {},
  opts: ServiceProcessOptions = {}
): Promise<ServiceProcess> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(stack.config({ LOG_LEVEL: 'warn', ...settings }))) if (value !== undefined) env[key] = String(value)
  const proc = await startServiceProcess(name, env, opts)
  host.teardown(() => proc.stop())
  return proc
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

/**
 * CPU time (µs) of a process's threads: the event loop's, and the others' by thread name (V8's GC
 * and compiler helpers are `V8 DefaultWorke`; libuv's pool, which runs file system calls, is unnamed
 * on Node 20 and shows as `other threads`).
 */
export function procThreadsCpuUs(pid: number): Map<string, number> {
  const byName = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const name = tid === String(pid) ? 'event loop' : comm === 'node' ? 'other threads' : comm
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
      byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10_000)
    } catch {
      /* thread gone */
    }
  }
  return byName
}
