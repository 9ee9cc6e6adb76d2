// WebSocket clients of the gateway bench, in their own process so that the gateway's memory and CPU
// are measured without them: `node gateway-clients.mjs` driven over IPC by gateway.ts.
//
//   { cmd: 'connect', url, headers: [...] }     → { ok: 'connected', ms }
//   { cmd: 'latency', conversationId, rate, seconds }   → { ok: 'latency', samples, sent, expected, received }
//   { cmd: 'throughput', conversationId, seconds, window } → { ok: 'throughput', delivered, seconds, frames }
//   { cmd: 'close' }                             → exits
//
// Latency is measured on this process's clock only: a message's send time and its arrival on each
// socket (including the sender's own socket).
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'

/** @type {WebSocket[]} */
let sockets = []
/** id → { t0, left } */
const inflight = new Map()
let onDelivered = () => {}
let onArrival = (_at, _t0) => {}
let frames = 0
let seq = 0

function summary(samples) {
  const s = Float64Array.from(samples).sort()
  const at = (q) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? 0 }
}

const MARK = Buffer.from('"clientMessageId":"')

/**
 * A `message.created` frame's clientMessageId, found without parsing the whole frame: the 1,000
 * clients share one process here, and their cost would otherwise be counted as delivery latency.
 */
function handle(data, at) {
  if (data.indexOf('"type":"message.created"') === -1) return
  const i = data.indexOf(MARK)
  if (i === -1) return
  const start = i + MARK.length
  const key = data.toString('latin1', start, data.indexOf(0x22, start))
  frames++
  const entry = inflight.get(key)
  if (!entry) return
  onArrival(at - entry.t0)
  if (--entry.left === 0) {
    inflight.delete(key)
    onDelivered()
  }
}

async function connect(url, headersList) {
  const t0 = performance.now()
  const open = (headers) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: false, skipUTF8Validation: true })
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)))
      ws.once('error', reject)
      let greeted = false
      ws.on('message', (data) => {
        const at = performance.now()
        if (!greeted) {
          greeted = JSON.parse(data.toString()).type === 'hello'
          if (greeted) resolve(ws)
          return
        }
        handle(data, at)
      })
      ws.on('close', (code) => {
        if (code !== 1000 && code !== 1005) process.send({ warn: `socket closed with ${code}` })
      })
    })
  const out = new Array(headersList.length)
  let next = 0
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < headersList.length) {
        const i = next++
        out[i] = await open(headersList[i])
      }
    })
  )
  sockets = out
  return performance.now() - t0
}

function sendOne(conversationId) {
  const id = `b${process.pid}-${++seq}`
  const sender = sockets[seq % sockets.length]
  inflight.set(id, { t0: performance.now(), left: sockets.length })
  sender.send(JSON.stringify({ type: 'message.send', conversationId, text: `bench message ${seq}`, clientMessageId: id }))
}

/** CPU of this process since `before`, as % of one core over `seconds` */
function cpuSince(before, seconds) {
  const u = process.cpuUsage(before)
  return Math.round((u.user + u.system) / 1e4 / seconds)
}

async function latency({ conversationId, rate, seconds }) {
  const cpu0 = process.cpuUsage()
  const samples = []
  onArrival = (ms) => samples.push(ms)
  onDelivered = () => {}
  const total = Math.max(1, Math.round(rate * seconds))
  for (let i = 0; i < total; i++) {
    sendOne(conversationId)
    await new Promise((r) => setTimeout(r, 1000 / rate))
  }
  const deadline = performance.now() + 5000
  while (inflight.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  const lost = [...inflight.values()].reduce((n, e) => n + e.left, 0)
  inflight.clear()
  return { ...summary(samples), sent: total, expected: total * sockets.length, received: samples.length, lost, cpu: cpuSince(cpu0, seconds) }
}

async function throughput({ conversationId, seconds, window }) {
  const cpu0 = process.cpuUsage()
  const samples = []
  onArrival = (ms) => samples.push(ms)
  let delivered = 0
  const framesBefore = frames
  const start = performance.now()
  const end = start + seconds * 1000
  let framesAtEnd = -1
  await new Promise((resolve) => {
    onDelivered = () => {
      const now = performance.now()
      if (now <= end) {
        delivered++
        sendOne(conversationId)
      } else {
        if (framesAtEnd < 0) framesAtEnd = frames
        if (inflight.size === 0) resolve()
      }
    }
    for (let i = 0; i < window; i++) sendOne(conversationId)
    setTimeout(resolve, seconds * 1000 + 5000)
  })
  inflight.clear()
  return { ...summary(samples), delivered, seconds, frames: (framesAtEnd < 0 ? frames : framesAtEnd) - framesBefore, cpu: cpuSince(cpu0, seconds) }
}

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'connect') process.send({ ok: 'connected', ms: await connect(msg.url, msg.headers) })
    else if (msg.cmd === 'latency') process.send({ ok: 'latency', ...(await latency(msg)) })
    else if (msg.cmd === 'throughput') process.send({ ok: 'throughput', ...(await throughput(msg)) })
    else if (msg.cmd === 'close') {
      for (const ws of sockets) ws.close(1000)
      setTimeout(() => process.exit(0), 500)
    }
  } catch (err) {
    process.send({ error: String(err?.stack ?? err) })
  }
})
process.send({ ok: 'ready' })
