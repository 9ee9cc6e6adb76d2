/**
 * Files: the CPU each small upload costs the service (4 KiB and 32 KiB text files sent to a
 * conversation one after another, as the web client sends attachments; the service's process and
 * its PostgreSQL backends, from /proc), then throughput of a 20 MiB upload and download through the files service — encrypted at rest
 * (AES-256-GCM in 64 KiB chunks under a per-file key, FILES_KEYS set as in production) and
 * hash-checked on the full read — beside a plain disk copy of the same bytes in the same run (the ratio is what to compare across runs on a shared,
 * noisy machine), and the service's peak RSS while ten uploads stream at once — with 1 MiB files
 * and with 20 MiB files. Uploads are streamed to disk, so the peak must not grow with the file size.
 *
 * The files service runs as its own process (`src/server.ts`, as the launcher starts it) so its RSS
 * and CPU time are its own; auth, PostgreSQL and NATS come from the testkit stack in this process.
 * Clients stream from and to disk, never holding a file in memory.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, unlink } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { startTestStack, type TestStack, type TestUser } from '@palisade/testkit'
import { newFilesKekLine } from '../deploy/secrets.js'
import { discardStream, type Bench, type Measurement, type RunOptions, benchCleanups } from './framework.js'
import { backendsDelta, collect, createConversation, filesBackendsCpu, uploadSmall } from './files-small.js'
import { procCpuUs, procStatus, procThreadsCpuUs, startServiceProcess, startStackService, type ServiceProcess } from './service-process.js'

const MiB = 1024 * 1024
const FILE_BYTES = 20 * MiB
const SMALL_BYTES = 1 * MiB
const CONCURRENT = 10
/** attachments of a day: mostly a few KiB (scripts/src/bench/day-actions.mjs) */
const SMALL_UPLOAD_SIZES = [4 * 1024, 32 * 1024]
/** small uploads before they are measured, per second of --warmup */
const SMALL_WARMUP_UPLOADS = 300
/**
 * Goal: files' CPU per small upload (a fixed cost: the rate limit, the quota and the row in
 * PostgreSQL, the membership check over NATS, a temp file sealed, synced and renamed). 6–7.5 ms on
 * this machine under others' load (load 11–18), 8–9.5 ms before the changes of 2026-12-07 ("Files:
 * the fixed cost of a small upload" in docs/performance.md).
 */
const SMALL_UPLOAD_CPU_LIMIT_US = 8_000
/**
 * Goal: from 1 MiB to 20 MiB files the peak RSS may grow by at most a quarter of the extra bytes in
 * flight (10 × 19 MiB). A service holding uploads in memory grows by all of it; a streaming one by
 * its fixed buffers plus garbage awaiting collection, whatever the file size.
 */
const RSS_GROWTH_LIMIT = ((FILE_BYTES - SMALL_BYTES) * CONCURRENT) / 4

export const FILES_ROWS = {
  small4: 'files: 4 KiB uploads to a conversation, one at a time (uploads/s)',
  small32: 'files: 32 KiB uploads to a conversation, one at a time (uploads/s)',
  copy: 'files: plain disk copy of 20 MiB (MiB/s)',
  upload: 'files: upload 20 MiB (MiB/s)',
  download: 'files: download 20 MiB (MiB/s)',
  concurrent: `files: ${CONCURRENT} concurrent 20 MiB uploads (MiB/s)`
} as const

/** A text file (valid UTF-8, so the service accepts it as text/plain) of random characters. */
async function makeTextFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path)
  let left = bytes
  while (left > 0) {
    const n = Math.min(left, MiB)
    const chunk = Buffer.from(
      randomBytes(Math.ceil((n * 3) / 4))
        .toString('base64')
        .slice(0, n)
    )
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
    left -= n
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
}

/** Samples a process's resident set every 5 ms while `work` runs; returns the peak. */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ peak: number; result: T }> {
  let peak = procStatus(pid, 'VmRSS')
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procStatus(pid, 'VmRSS'))
    } catch {
      /* process gone */
    }
  }, 5)
  try {
    const result = await work()
    peak = Math.max(peak, procStatus(pid, 'VmRSS'))
    return { peak, result }
  } finally {
    clearInterval(timer)
  }
}

function stats(name: string, mibPerSec: number, samplesMs: number[], cpuUsPerOp: number, errors = 0): Measurement {
  const s = [...samplesMs].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0
  return { name, reqPerSec: mibPerSec, p50: at(0.5), p99: at(0.99), cpuUsPerReq: cpuUsPerOp, errors, unexpected: 0 }
}

function startFilesProcess(stack: TestStack, storageDir: string): Promise<ServiceProcess> {
  return startServiceProcess('files', {
    DATABASE_URL: stack.databaseUrl,
    NATS_URL: stack.natsUrl,
    AUTH_ISSUER: stack.authConfig.AUTH_ISSUER,
    FILES_STORAGE_DIR: storageDir,
    FILES_KEYS: newFilesKekLine().trim(),
    FILES_USER_QUOTA_BYTES: String(1024 * 1024 * MiB),
    FILES_UPLOADS_PER_MINUTE: '100000',
    FILES_MAX_CONCURRENT_UPLOADS_PER_USER: String(CONCURRENT * 2)
  })
}

/** One multipart upload streamed from `path`; resolves with the stored file's id and the time taken. */
function uploadFile(baseUrl: string, headers: Record<string, string>, path: string, size: number): Promise<{ id: string; ms: number }> {
  const boundary = `----bench${randomUUID()}`
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.txt"\r\nContent-Type: text/plain\r\n\r\n`)
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  const url = new URL('/api/files', baseUrl)
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + size + tail.length) }
      },
      async (res) => {
        const body = await collect(res)
        if (res.statusCode !== 201) return reject(new Error(`upload answered ${res.statusCode}: ${body.slice(0, 200)}`))
        resolve({ id: (JSON.parse(body) as { id: string }).id, ms: performance.now() - t0 })
      }
    )
    req.on('error', reject)
    req.write(head)
    const file = createReadStream(path, { highWaterMark: 256 * 1024 })
    file.on('error', reject)
    file.on('end', () => req.end(tail))
    file.pipe(req, { end: false })
  })
}

function downloadFile(baseUrl: string, headers: Record<string, string>, id: string): Promise<{ bytes: number; ms: number }> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/api/files/${id}/content`, baseUrl), { headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`download answered ${res.statusCode}`))
      let bytes = 0
      res.on('data', (c: Buffer) => (bytes += c.length))
      res.on('end', () => resolve({ bytes, ms: performance.now() - t0 }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

async function deleteFile(baseUrl: string, headers: Record<string, string>, id: string): Promise<void> {
  const res = await fetch(new URL(`/api/files/${id}`, baseUrl), { method: 'DELETE', headers })
  if (res.status !== 204) throw new Error(`delete answered ${res.status}`)
}

/** The baseline: the same bytes through a read stream into a write stream that is flushed to disk, as the service does. */
async function diskCopy(from: string, to: string): Promise<number> {
  const t0 = performance.now()
  await pipeline(createReadStream(from, { highWaterMark: 256 * 1024 }), createWriteStream(to, { flush: true, highWaterMark: 256 * 1024 }))
  const ms = performance.now() - t0
  await unlink(to)
  return ms
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1)
const mibPerSec = (bytes: number, ms: number) => bytes / MiB / (ms / 1000)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

export const filesBench: Bench = {
  name: 'files',
  description: `CPU per small upload (4 and 32 KiB), 20 MiB upload/download through the files service vs a plain disk copy, and peak RSS with ${CONCURRENT} concurrent uploads (1 MiB vs 20 MiB)`,
  async setup() {
    const cleanups = benchCleanups()
    const host = cleanups.host
    const teardown = cleanups.run
    try {
      const work = await mkdtemp(join(tmpdir(), 'palisade-bench-files-'))
      cleanups.push(() => rm(work, { recursive: true, force: true }))
      const big = join(work, 'big.txt')
      const small = join(work, 'small.txt')
      await makeTextFile(big, FILE_BYTES)
      await makeTextFile(small, SMALL_BYTES)

      const stack = await startTestStack(host, { authLogStream: discardStream() })
      // Chat answers the membership check of uploads to a conversation.
      const chat = await startStackService(host, stack, 'chat', { CHAT_RATE_LIMIT_PER_MINUTE: 1_000_000 })
      const service = await startFilesProcess(stack, join(work, 'storage'))
      cleanups.push(() => service.stop())
      const pid = service.pid
      const user: TestUser = await stack.createUser({ displayName: 'Bench' })
      // Assertions live ≤ 60 s: fetched again for every phase.
      const identity = () => stack.identityHeaders(user, { method: 'POST', uri: '/api/files' }) as Promise<Record<string, string>>
      const conversationId = await createConversation(chat, await stack.identityHeaders(user, { method: 'POST', uri: '/api/chat/conversations' }))
      const db = new pg.Client({ connectionString: stack.databaseUrl })
      await db.connect()
      cleanups.push(() => db.end())
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 })
      cleanups.push(() => keepAlive.destroy())
      const smallFiles = SMALL_UPLOAD_SIZES.map((size) => Buffer.from(randomBytes(size).toString('base64').slice(0, size)))

      return {
        targets: [],
        goals: [FILES_ROWS.small4, FILES_ROWS.small32].map((target) => ({ target, maxCpuUs: SMALL_UPLOAD_CPU_LIMIT_US })),
        async measure(opts: RunOptions): Promise<Measurement[]> {
          // BENCH_FILES_SMALL_ONLY=1: the small uploads alone (to profile their fixed cost).
          const smallOnly = process.env.BENCH_FILES_SMALL_ONLY === '1'
          const reps = Math.max(3, Math.min(10, Math.round(opts.durationSeconds / 2)))
          let headers = await identity()
          if (opts.warmupSeconds > 0 && !smallOnly) {
            const w = await uploadFile(service.url, headers, big, FILE_BYTES)
            await downloadFile(service.url, headers, w.id)
            await deleteFile(service.url, headers, w.id)
            await diskCopy(big, join(work, 'warm.copy'))
          }

          // Small uploads one after another, as the day's attachments arrive: the fixed cost per
          // upload, not the bytes. PostgreSQL's backends for files are counted beside the service.
          const smallRows: Measurement[] = []
          const count = Math.max(50, 20 * opts.durationSeconds)
          headers = await identity()
          // A fresh process compiles its hot paths over its first few hundred uploads (V8's
          // optimising compiler on helper threads, ~2 ms of CPU per upload on top at first).
          for (let i = 0; i < SMALL_WARMUP_UPLOADS * opts.warmupSeconds; i++) {
            await uploadSmall(service.url, keepAlive, headers, conversationId, smallFiles[i % smallFiles.length]!)
          }
          headers = await identity()
          const smallLines: string[] = []
          for (const [k, bytes] of smallFiles.entries()) {
            const samples: number[] = []
            const pg0 = await filesBackendsCpu(db)
            const threads0 = procThreadsCpuUs(pid)
            const cpu0 = procCpuUs(pid)
            const t0 = performance.now()
            for (let i = 0; i < count; i++) samples.push(await uploadSmall(service.url, keepAlive, headers, conversationId, bytes))
            const seconds = (performance.now() - t0) / 1000
            const cpuUs = (procCpuUs(pid) - cpu0) / count
            const threads = [...procThreadsCpuUs(pid)]
              .map(([name, us]) => [name, (us - (threads0.get(name) ?? 0)) / count] as const)
              .filter(([, us]) => us > 0)
              .sort((a, b) => b[1] - a[1])
            // Whatever the uploads leave to do after their answers (none expected without a scanner).
            await sleep(500)
            const afterUs = (procCpuUs(pid) - cpu0) / count - cpuUs
            const pgUs = backendsDelta(pg0, await filesBackendsCpu(db)) / count
            smallLines.push(
              `files: ${bytes.length / 1024} KiB uploads: files CPU ${(cpuUs / 1000).toFixed(2)} ms per upload (+${(afterUs / 1000).toFixed(2)} ms in the 0.5 s after), ` +
                `its PostgreSQL backends ${(pgUs / 1000).toFixed(2)} ms; ${(count / seconds).toFixed(0)} uploads/s over ${count}\n` +
                `  by thread: ${threads.map(([name, us]) => `${name} ${(us / 1000).toFixed(2)} ms`).join(', ')}`
            )
            smallRows.push(stats(k === 0 ? FILES_ROWS.small4 : FILES_ROWS.small32, count / seconds, samples, cpuUs))
            headers = await identity()
          }

          if (smallOnly) {
            process.stdout.write(`${smallLines.join('\n')}\n`)
            return smallRows
          }

          // Same bytes, alternating, so both see the same machine load.
          const copyMs: number[] = []
          const uploadMs: number[] = []
          const downloadMs: number[] = []
          let copyCpu = 0
          let serviceUploadCpu = 0
          let serviceDownloadCpu = 0
          headers = await identity()
          for (let i = 0; i < reps; i++) {
            const c0 = process.cpuUsage()
            copyMs.push(await diskCopy(big, join(work, `copy-${i}`)))
            const c = process.cpuUsage(c0)
            copyCpu += c.user + c.system
            let s0 = procCpuUs(pid)
            const up = await uploadFile(service.url, headers, big, FILE_BYTES)
            serviceUploadCpu += procCpuUs(pid) - s0
            uploadMs.push(up.ms)
            s0 = procCpuUs(pid)
            const down = await downloadFile(service.url, headers, up.id)
            serviceDownloadCpu += procCpuUs(pid) - s0
            if (down.bytes !== FILE_BYTES) throw new Error(`downloaded ${down.bytes} bytes`)
            downloadMs.push(down.ms)
            await deleteFile(service.url, headers, up.id)
          }

          // Peak RSS with ten uploads at once: small files first (after one unmeasured pass, so that
          // one-off allocations of the concurrent path are not blamed on the file size), then big ones.
          const concurrently = async (path: string, size: number) => {
            const h = await identity()
            const t0 = performance.now()
            const done = await Promise.all(Array.from({ length: CONCURRENT }, () => uploadFile(service.url, h, path, size)))
            const ms = performance.now() - t0
            await Promise.all(done.map((d) => deleteFile(service.url, h, d.id)))
            return { ms, each: done.map((d) => d.ms) }
          }
          await concurrently(small, SMALL_BYTES)
          await sleep(200)
          const idle = procStatus(pid, 'VmRSS')
          const smallRun = await peakRss(pid, () => concurrently(small, SMALL_BYTES))
          const bigCpu0 = procCpuUs(pid)
          const bigRun = await peakRss(pid, () => concurrently(big, FILE_BYTES))
          const bigCpuPerUpload = (procCpuUs(pid) - bigCpu0) / CONCURRENT
          const growth = bigRun.peak - smallRun.peak

          const copy = median(copyMs)
          const upload = median(uploadMs)
          const download = median(downloadMs)
          const lines = [
            ...smallLines,
            `files: 20 MiB upload   ${mibPerSec(FILE_BYTES, upload).toFixed(0)} MiB/s = ${((copy / upload) * 100).toFixed(0)} % of a plain disk copy (${mibPerSec(FILE_BYTES, copy).toFixed(0)} MiB/s), median of ${reps}`,
            `files: 20 MiB download ${mibPerSec(FILE_BYTES, download).toFixed(0)} MiB/s = ${((copy / download) * 100).toFixed(0)} % of a plain disk copy`,
            `files: service CPU per 20 MiB: upload ${(serviceUploadCpu / reps / 1000).toFixed(0)} ms, download ${(serviceDownloadCpu / reps / 1000).toFixed(0)} ms (plain copy ${(copyCpu / reps / 1000).toFixed(0)} ms)`,
            `files: service RSS idle ${mib(idle)} MiB; peak with ${CONCURRENT} concurrent uploads: ${mib(smallRun.peak)} MiB (1 MiB files), ${mib(bigRun.peak)} MiB (20 MiB files)`,
            `${growth <= RSS_GROWTH_LIMIT ? 'PASS' : 'FAIL'} files: peak RSS grows by ${mib(growth)} MiB from 1 MiB to 20 MiB files (${mib((FILE_BYTES - SMALL_BYTES) * CONCURRENT)} MiB more in flight; goal ≤ ${mib(RSS_GROWTH_LIMIT)} MiB)`
          ]
          process.stdout.write(`${lines.join('\n')}\n`)
          return [
            ...smallRows,
            stats(FILES_ROWS.copy, mibPerSec(FILE_BYTES, copy), copyMs, copyCpu / reps),
            stats(FILES_ROWS.upload, mibPerSec(FILE_BYTES, upload), uploadMs, serviceUploadCpu / reps),
            stats(FILES_ROWS.download, mibPerSec(FILE_BYTES, download), downloadMs, serviceDownloadCpu / reps),
            stats(FILES_ROWS.concurrent, mibPerSec(FILE_BYTES * CONCURRENT, bigRun.result.ms), bigRun.result.each, bigCpuPerUpload)
          ]
        },
        teardown
      }
    } catch (err) {
      await teardown()
      throw err
    }
  }
}
