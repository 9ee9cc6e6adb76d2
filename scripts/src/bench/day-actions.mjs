// Uploads and agent runs of the day bench's simulated people (day-clients.mjs): each goes through
// the edge on the person's own keep-alive connection with their access cookie and Origin, in the
// requests the web client makes (services/web/client/src/files.ts: a multipart POST /api/files with
// `conversationId` then `file`, then the file sent as a message's attachment over the socket;
// agents: POST /api/agents/:id/runs, then the run's events on the socket). The files are small
// (4–200 KiB, mostly a few KiB) and of types the files service takes: Markdown notes, CSV exports,
// PNG screenshots, PDF reports — made once per client process.
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { crc32, deflateSync } from 'node:zlib'

const now = () => performance.timeOrigin + performance.now()
const KiB = 1024
const WORDS = ['meeting', 'deploy', 'release', 'budget', 'review', 'friday', 'invoice', 'roadmap', 'the', 'and', 'for', 'team', 'plan']
const pick = (list) => list[Math.floor(Math.random() * list.length)]
/** How long a run may take to complete after its step ended before it counts as lost. */
const SETTLE_MS = 15_000

const UPLOAD_ROUTE = 'POST /api/files'
const RUN_ROUTE = 'POST /api/agents/:id/runs'

/** Access-token refreshes since the last `takeRefreshes()` (this process's people). */
let refreshes = 0
export function takeRefreshes() {
  const n = refreshes
  refreshes = 0
  return n
}

/**
 * A request through the person's own connection; resolves with the status and body. As the web
 * client does (client/src/api.ts), a 401 (the access token expired) refreshes the session once —
 * POST /auth/refresh with the refresh cookie, which rotates both cookies — and repeats the request.
 */
export async function send(url, person, origin, opts = {}) {
  const res = await sendOnce(url, person, origin, opts)
  if (res.status !== 401 || !(await refresh(new URL(url).origin, person, origin))) return res
  return sendOnce(url, person, origin, opts)
}

/** One refresh at a time per person, shared by every request that hit a 401 meanwhile. */
function refresh(base, person, origin) {
  person.refreshing ??= sendOnce(`${base}/auth/refresh`, person, origin, { ...json({}), cookie: person.refreshCookie })
    .then(({ status, cookies }) => {
      if (status !== 200) return false
      for (const c of cookies) {
        const pair = c.split(';')[0]
        if (pair.startsWith(`${ACCESS_COOKIE}=`)) person.cookie = pair
        else if (pair.startsWith(`${REFRESH_COOKIE}=`)) person.refreshCookie = pair
      }
      refreshes++
      return true
    })
    .catch(() => false)
    .finally(() => (person.refreshing = undefined))
  return person.refreshing
}

// AUTH_COOKIES of @palisade/contracts (this file runs without the workspace's TypeScript)
const ACCESS_COOKIE = 'palisade_access'
const REFRESH_COOKIE = 'palisade_refresh'

function sendOnce(url, person, origin, { method = 'GET', headers = {}, body, cookie = person.cookie }) {
  return new Promise((resolve, reject) => {
    const all = { cookie, accept: 'application/json', origin, ...headers }
    if (body) all['content-length'] = String(body.length)
    const req = http.request(url, { method, agent: person.agent, headers: all }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.once('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), cookies: res.headers['set-cookie'] ?? [] }))
      res.once('error', reject)
    })
    req.once('error', reject)
    req.end(body)
  })
}

const json = (value) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(value)) })

/** 4 KiB to 200 KiB, most of them near the small end (as attachments in chat are). */
const sizeOf = () => Math.round(4 * KiB * 50 ** (Math.random() ** 2))

function words(bytes, line) {
  const out = []
  let n = 0
  for (let i = 1; n < bytes; i++) {
    const l = line(i)
    out.push(l)
    n += Buffer.byteLength(l)
  }
  return Buffer.from(out.join(''))
}

function png(bytes) {
  const width = 256
  const height = Math.max(1, Math.ceil(bytes / (width * 3 + 1)))
  // noise does not compress: the file is about as large as its pixels
  const raw = randomBytes(height * (width * 3 + 1))
  for (let y = 0; y < height; y++) raw[y * (width * 3 + 1)] = 0
  const chunk = (type, data) => {
    const head = Buffer.alloc(8)
    head.writeUInt32BE(data.length, 0)
    head.write(type, 4, 'latin1')
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])))
    return Buffer.concat([head, data, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 1 })),
    chunk('IEND', Buffer.alloc(0))
  ])
}

function pdf(bytes) {
  const stream = randomBytes(Math.max(0, bytes - 400))
  return Buffer.concat([
    Buffer.from(
      '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n',
      'latin1'
    ),
    Buffer.from(`3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\nendobj\n4 0 obj\n<< /Length ${stream.length} >>\nstream\n`),
    stream,
    Buffer.from('\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n')
  ])
}

const KINDS = [
  {
    share: 0.3,
    name: (i) => `notes-${i}.md`,
    type: 'text/markdown',
    make: (b) => words(b, (i) => (i % 12 === 1 ? `\n## ${pick(WORDS)} ${i}\n\n` : `${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)}. `))
  },
  {
    share: 0.2,
    name: (i) => `export-${i}.csv`,
    type: 'text/csv',
    make: (b) => words(b, (i) => (i === 1 ? 'date,item,amount\n' : `2026-12-${1 + (i % 28)},${pick(WORDS)},${(i * 37) % 1000}.${i % 100}\n`))
  },
  { share: 0.35, name: (i) => `screenshot-${i}.png`, type: 'image/png', make: png },
  { share: 0.15, name: (i) => `report-${i}.pdf`, type: 'application/pdf', make: pdf }
]

/** A few dozen files per process, drawn at random: making 200 KiB of noise per upload would cost the client more than the sending. */
const FILES = Array.from({ length: 32 }, (_, i) => {
  // the kinds in their shares: file i takes the kind whose cumulative share first passes (i + ½) / 32
  let kind = KINDS[0]
  for (let k = 0, below = 0; k < KINDS.length && below <= (i + 0.5) / 32; k++) {
    kind = KINDS[k]
    below += kind.share
  }
  return { name: kind.name(i + 1), type: kind.type, bytes: kind.make(sizeOf()) }
})

function multipart(conversationId, file) {
  const boundary = `----DayBenchFormBoundary${randomBytes(8).toString('hex')}`
  return {
    type: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\n${conversationId}\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`),
      file.bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`)
    ])
  }
}

/**
 * `error(kind)` counts a failure; `ctx` of each action: `{ base, origin, record(route, ms),
 * sendMessage(person, conversationId, text, attachments) }` from the running step.
 */
export function dayActions(error) {
  /** runId → { t0, personId } of runs started in the running step, until their end arrives */
  let started = new Map()
  /** start request → agent.run.completed on the starter's socket, ms */
  let runs = []
  return {
    /** One agent per person who uses agents, on the bench's stand-in provider, made at connect. */
    async createAgent(person, base, origin) {
      const res = await send(
        `${base}/api/agents`,
        person,
        origin,
        json({ name: 'Day helper', instructions: 'Answer in a few words.', provider: 'bench', model: 'bench' })
      )
      if (res.status !== 201) throw new Error(`POST /api/agents answered ${res.status}`)
      person.agentId = JSON.parse(res.body).id
    },

    async upload(p, ctx) {
      const conversationId = pick(p.conversations)
      const file = pick(FILES)
      const form = multipart(conversationId, file)
      const t0 = performance.now()
      try {
        const res = await send(`${ctx.base}/api/files`, p, ctx.origin, { method: 'POST', headers: { 'content-type': form.type }, body: form.body })
        if (res.status !== 201) return error(`${UPLOAD_ROUTE} answered ${res.status}`)
        ctx.record(UPLOAD_ROUTE, performance.now() - t0)
        const meta = JSON.parse(res.body)
        ctx.sendMessage(p, conversationId, meta.name, [meta.id])
      } catch (err) {
        error(`${UPLOAD_ROUTE}: ${err.message}`)
      }
    },

    async run(p, ctx) {
      const t0 = now()
      try {
        const res = await send(
          `${ctx.base}/api/agents/${p.agentId}/runs`,
          p,
          ctx.origin,
          json({ conversationId: pick(p.conversations), input: `What did we decide about the ${pick(WORDS)}?` })
        )
        if (res.status !== 202) return error(`${RUN_ROUTE} answered ${res.status}`)
        ctx.record(RUN_ROUTE, now() - t0)
        // The stand-in's answer takes ≥ 0.6 s, so the 202 is read before the run can end.
        started.set(JSON.parse(res.body).id, { t0, personId: p.id })
      } catch (err) {
        error(`${RUN_ROUTE}: ${err.message}`)
      }
    },

    /** A frame on person `personId`'s socket; true when it was a run event (deltas are skipped unread). */
    onFrame(data, at, personId) {
      if (data.indexOf('"type":"agent.run.') === -1) return false
      if (data.indexOf('"type":"agent.run.delta"') !== -1) return true
      const f = JSON.parse(data.toString())
      const run = started.get(f.runId)
      // every member sees the run's events; the time is the starter's
      if (!run || run.personId !== personId) return true
      started.delete(f.runId)
      if (f.type === 'agent.run.completed') runs.push(at - run.t0)
      else error(`agent run ${f.type.slice('agent.run.'.length)}${f.reason ? `: ${f.reason}` : ''}`)
      return true
    },

    begin() {
      started = new Map()
      runs = []
    },

    /** Waits for the runs still going; those that never end on the socket are errors. */
    async settle() {
      const until = performance.now() + SETTLE_MS
      while (started.size && performance.now() < until) await new Promise((r) => setTimeout(r, 100))
      for (let i = 0; i < started.size; i++) error(`agent run: no agent.run.completed on the socket within ${SETTLE_MS / 1000} s of the step's end`)
      started = new Map()
      return runs
    }
  }
}
