import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { deflateSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { buildService, startTestStack, type TestStack, type TestUser } from '@palisade/testkit'
import filesApp, { type FilesAppConfig } from '../src/app.js'

export type Tap = { teardown(fn: () => unknown): void }

export interface FilesHarness {
  stack: TestStack
  app: FastifyInstance
  storageDir: string
  config: FilesAppConfig
  /** identity headers for `user` (one real /auth/verify per user, reused: assertions are per session and audience) */
  as(user: TestUser): Promise<Record<string, string>>
  /** every file below the storage dir (relative paths), temp and stored */
  listStorage(): Promise<string[]>
  rowCount(): Promise<number>
}

export async function storageDirFor(t: Tap): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-files-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
    .sort()
}

export async function startFiles(
  t: Tap,
  overrides: Partial<FilesAppConfig> = {},
  opts: { stack?: TestStack; listen?: boolean; logStream?: NodeJS.WritableStream } = {}
): Promise<FilesHarness> {
  const stack = opts.stack ?? (await startTestStack(t))
  const storageDir = await storageDirFor(t)
  const config: FilesAppConfig = { ...stack.config(), FILES_STORAGE_DIR: storageDir, ...overrides }
  const app = await buildService(t, filesApp, config, {
    service: 'files',
    ...(opts.listen ? { listen: true } : {}),
    ...(opts.logStream ? { logStream: opts.logStream } : {})
  })
  return harness(stack, app, storageDir, config)
}

export function harness(stack: TestStack, app: FastifyInstance, storageDir: string, config: FilesAppConfig): FilesHarness {
  const headers = new Map<string, Promise<Record<string, string>>>()
  return {
    stack,
    app,
    storageDir,
    config,
    as(user) {
      let h = headers.get(user.userId)
      if (!h) {
        h = stack.identityHeaders(user, { method: 'POST', uri: '/api/files' }) as Promise<Record<string, string>>
        headers.set(user.userId, h)
      }
      return h
    },
    listStorage: () => listFiles(storageDir),
    async rowCount() {
      const r = await app.pg.query('SELECT count(*)::int AS n FROM files.files')
      return r.rows[0].n as number
    }
  }
}

export type Part = { name: string; value: string } | { name: string; filename: string; data: Buffer; contentType?: string | null }

/**
 * A multipart/form-data body built byte by byte, so tests can send what browsers would not:
 * traversal names, NUL bytes, raw UTF-8, missing Content-Type.
 */
export function multipart(parts: Part[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----palisade${randomBytes(12).toString('hex')}`
  const chunks: Buffer[] = []
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n`))
    if ('value' in p) {
      chunks.push(Buffer.from(`Content-Disposition: form-data; name="${p.name}"\r\n\r\n`), Buffer.from(p.value), Buffer.from('\r\n'))
    } else {
      const type = p.contentType === undefined ? 'application/octet-stream' : p.contentType
      chunks.push(Buffer.from(`Content-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\n`))
      if (type !== null) chunks.push(Buffer.from(`Content-Type: ${type}\r\n`))
      chunks.push(Buffer.from('\r\n'), p.data, Buffer.from('\r\n'))
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  const payload = Buffer.concat(chunks)
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(payload.length) } }
}

export function filePart(filename: string, data: Buffer, contentType?: string | null): Part {
  return { name: 'file', filename, data, ...(contentType !== undefined ? { contentType } : {}) }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(buf: Buffer): number {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}

/** A real, decodable RGB PNG of the given size (random pixels, so it does not compress away). */
export function png(width = 4, height = 4, extraBytes = 0): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  const rows: Buffer[] = []
  for (let y = 0; y < height; y++) rows.push(Buffer.concat([Buffer.from([0]), randomBytes(width * 3)]))
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows)))]
  if (extraBytes > 0) parts.push(chunk('tEXt', Buffer.concat([Buffer.from('Comment\0'), Buffer.alloc(extraBytes, 0x61)])))
  parts.push(chunk('IEND', Buffer.alloc(0)))
  return Buffer.concat(parts)
}

export const PDF = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n')

export async function upload(h: FilesHarness, user: TestUser, parts: Part[]) {
  const body = multipart(parts)
  return h.app.inject({ method: 'POST', url: '/api/files', headers: { ...(await h.as(user)), ...body.headers }, payload: body.payload })
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 25))
  }
  return check()
}
