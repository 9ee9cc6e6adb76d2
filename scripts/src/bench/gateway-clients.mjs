// WebSocket clients of the gateway bench, in child processes so that the gateway's memory and CPU
// are measured without them (and, with several children, so that 1,000 clients do not queue behind
// one another on one core, which real clients on their own machines never do). Driven over IPC by
// gateway.ts:
//
//   { cmd: 'connect', url, headers: [...] }                  → { ok: 'connected', ms }
//   { cmd: 'record', seconds }                               → { ok: 'recorded', samples, frames, cpu }
//       records arrival latencies until told to stop (or `seconds` + 5 s)
//   { cmd: 'send', conversationId, rate, seconds }            → { ok: 'sent', sent }
//   { cmd: 'drive', conversationId, seconds, window }          → { ok: 'driven', delivered }
//       keeps `window` messages in flight, each counted delivered once all of *this* process's
//       sockets have it (the other children hold an equal share of the members)
//   { cmd: 'progress' }                                      → { ok: 'progress', frames } of the running `record`
//   { cmd: 'stop' }                                          → ends a `record`
//   { cmd: 'close' }                                         → exits
//
// Latency needs one clock across processes: a message carries its send time (epoch ms with µs,
// performance.timeOrigin + performance.now()) in its clientMessageId, and each arrival is compared
// with the same clock in the receiving process.
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'

/** @type {WebSocket[]} */
let sockets = []
const now = () => performance.timeOrigin + performance.now()
const MARK = Buffer.from('"clientMessageId":"')

let recording = null // { samples: number[], frames: number }
/** clientMessageId → sockets of this process still waiting for it (drive mode) */
const waiting = new Map()
let onDelivered = () => {}
let seq = 0

/**
 * A `message.created` frame's clientMessageId (`b<pid>-<seq>-<sent at>`), found without parsing
 * the frame as JSON: this process hosts hundreds of clients.
 */
function handle(data, at) {
  if (data.indexOf('"type":"message.created"') === -1) return
  const i = data.indexOf(MARK)
  if (i === -1) return
  const start = i + MARK.length
  const key = data.toString('latin1', start, data.indexOf(0x22, start))
  const sentAt = Number(key.slice(key.lastIndexOf('-') + 1))
  if (recording) {
    recording.frames++
    recording.samples.push(at - sentAt)
  }
  const left = waiting.get(key)
  if (left !== undefined) {
    if (left <= 1) {
      waiting.delete(key)
      onDelivered()
    } else waiting.set(key, left - 1)
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
        const at = now()
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

/** Sends one message from the next socket in turn (senders rotate: per-socket rate limits stay far away). */
function sendOne(conversationId, track) {
  const n = ++seq
  const id = `b${process.pid}-${n}-${now().toFixed(3)}`
  if (track) waiting.set(id, sockets.length)
  sockets[n % sockets.length].send(JSON.stringify({ type: 'message.send', conversationId, text: `bench message ${n}`, clientMessageId: id }))
}

let stopRecording = () => {}

async function record({ seconds }) {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  recording = { samples: [], frames: 0 }
  await new Promise((resolve) => {
    stopRecording = resolve
    setTimeout(resolve, (seconds + 10) * 1000)
  })
  const r = recording
  recording = null
  const u = process.cpuUsage(cpu0)
  return { samples: r.samples, frames: r.frames, cpu: Math.round((u.user + u.system) / 10 / (performance.now() - t0)) }
}

async function send({ conversationId, rate, seconds }) {
  const total = Math.max(1, Math.round(rate * seconds))
  const start = performance.now()
  for (let i = 0; i < total; i++) {
    sendOne(conversationId, false)
    const due = start + ((i + 1) * 1000) / rate
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())))
  }
  return { sent: total }
}

async function drive({ conversationId, seconds, window }) {
  let delivered = 0
  const end = performance.now() + seconds * 1000
  await new Promise((resolve) => {
    onDelivered = () => {
      if (performance.now() <= end) {
        delivered++
        sendOne(conversationId, true)
      } else if (waiting.size === 0) resolve()
    }
    for (let i = 0; i < window; i++) sendOne(conversationId, true)
    setTimeout(resolve, seconds * 1000 + 5000)
  })
  onDelivered = () => {}
  waiting.clear()
  return { delivered }
}

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'connect') process.send({ ok: 'connected', ms: await connect(msg.url, msg.headers) })
    else if (msg.cmd === 'record') process.send({ ok: 'recorded', ...(await record(msg)) })
    else if (msg.cmd === 'stop') stopRecording()
    else if (msg.cmd === 'progress') process.send({ ok: 'progress', frames: recording?.frames ?? 0 })
    else if (msg.cmd === 'send') process.send({ ok: 'sent', ...(await send(msg)) })
    else if (msg.cmd === 'drive') process.send({ ok: 'driven', ...(await drive(msg)) })
    else if (msg.cmd === 'close') {
      for (const ws of sockets) ws.close(1000)
      setTimeout(() => process.exit(0), 500)
    }
  } catch (err) {
    process.send({ error: String(err?.stack ?? err) })
  }
})
process.send({ ok: 'ready' })
