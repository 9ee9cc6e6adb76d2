/**
 * What the day scenario (day.ts) reads of the stack's processes from /proc: CPU time and resident
 * memory per process, and which process is which (the launcher runs the edge).
 */
import { readFileSync, readlinkSync } from 'node:fs'

export function statCpuUs(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * 10_000
  } catch {
    return 0
  }
}

export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** The stack's processes by name: the launcher (the edge), each service (by working directory), nats-server. */
export function stackProcesses(launcher: number): Record<string, number> {
  const out: Record<string, number> = { edge: launcher }
  const kids = readFileSync(`/proc/${launcher}/task/${launcher}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  for (const pid of kids) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
      if (comm.startsWith('nats-server')) out.nats = pid
      else {
        const service = /services\/([\w-]+)$/.exec(readlinkSync(`/proc/${pid}/cwd`))?.[1]
        if (service) out[service] = pid
      }
    } catch {}
  }
  return out
}
