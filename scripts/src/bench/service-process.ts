/**
 * Benchmarks start the service they measure as its own process (testkit's `startServiceProcess`),
 * so it has a core and an event loop of its own (not shared with the load generator's bookkeeping
 * or the testkit stack) and its CPU time and memory can be read from /proc.
 */
import { readFileSync } from 'node:fs'
import { startServiceProcess as startProcess, type ServiceProcess, type ServiceProcessOptions } from '@palisade/testkit'
import { SERVICE_NODE_FLAGS } from '../stack/services.js'

export type { ServiceProcess }

/** testkit's service process, with the V8 flags every deployed service runs with. */
export function startServiceProcess(name: string, env: Record<string, string>, opts: ServiceProcessOptions = {}): Promise<ServiceProcess> {
  return startProcess(name, env, { ...opts, nodeArgs: [...SERVICE_NODE_FLAGS, ...(opts.nodeArgs ?? [])] })
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
