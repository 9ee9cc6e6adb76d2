// Simulated people of the day bench (day.ts), many per process: each person holds a WebSocket to
// the edge with their own access cookie and, on a time-compressed clock, sends a message to one of
// their conversations, opens a conversation (first page), loads the conversation list and searches
// now and then, uploads a small file into a conversation and, if they use an agent, starts a run
// (day-actions.mjs) — all through the edge. Each person connects from an address of their own in
// 127.0.0.0/8 (one keep-alive HTTP connection and one WebSocket), as people on their own machines
// would: the edge caps connections per client address. Like the web client, each renews its
// socket's identity lease (GET /ws through the edge) before it runs out (≤ 60 s, real time).
// Driven over IPC:
//
//   { cmd: 'connect', url, base, origin, people: [{ id, cookie, refreshCookie, conversations, address, usesAgent }] }
//       → { ok: 'connected', ids: [connected people's ids], failed: { reason: n } }
//       (a person with `usesAgent` creates an agent first, and only they start runs)
//   { cmd: 'run', base, origin, seconds, every: { message, open, list, search, upload, run } }
//       → { ok: 'ran', sent: [[key, conversationId]], arrivals: [[key, count, maxMs]], http: { route: ms[] },
//           runs: [start → agent.run.completed ms], errors: { kind: n }, refreshes: sessions refreshed and
//           reconnects: sockets opened again after 4002, both since the last run }
//   { cmd: 'close' } → exits
//
// `every` is each action's mean interval per person in (compressed) seconds; the first of each is
// at a random point, so a step's load is spread evenly. Latency uses one clock across processes: a
// message carries its send time (epoch ms with µs) in its clientMessageId, and the receiving socket
// compares its arrival with the same clock.
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { dayActions, send, takeRefreshes } from './day-actions.mjs'

const now = () => performance.timeOrigin + performance.now()
const MARK = Buffer.from('"clientMessageId":"')
const WORDS = ['meeting', 'deploy', 'release', 'budget', 'review', 'friday', 'invoice', 'roadmap']

/** @type {{ id: string, ws: WebSocket, agent: http.Agent, conversations: string[], cookie: string, address: string }[]} */
const people = []
let errors = {}
/** clientMessageId → [arrivals, slowest ms] */
let arrivals = new Map()
let counting = false
/** route → latencies (ms) of the running step */
let latencies = {}
const error = (kind) => {
  errors[kind] = (errors[kind] ?? 0) + 1
}
const actions = dayActions(error)

function onFrame(data, at, personId) {
  if (data.indexOf('"type":"message.created"') !== -1) {
    const i = data.indexOf(MARK)
    if (i === -1 || !counting) return
    const start = i + MARK.length
    const key = data.toString('latin1', start, data.indexOf(0x22, start))
    if (!key.startsWith('d')) return
    const ms = at - Number(key.slice(key.lastIndexOf('-') + 1))
    const a = arrivals.get(key)
    if (a) {
      a[0]++
      if (ms > a[1]) a[1] = ms
    } else arrivals.set(key, [1, ms])
  } else if (actions.onFrame(data, at, personId)) return
  else if (data.indexOf('"type":"error"') !== -1) error(`ws error frame ${JSON.parse(data.toString()).code}`)
}

/**
 * Renews the person's socket lease before `expiresAt` as the web client does (realtime.ts), and
 * again after each renewal. The first renewal comes at a random point before that: people who
 * connected in one step's burst would otherwise renew in bursts, which people signing in over a
 * day do not.
 */
function keepLease(person, base, origin, expiresAt, first = false) {
  const left = Date.parse(expiresAt) - Date.now()
  const due = Math.max(1000, Math.min(left - 15_000, left * 0.75))
  const delay = first ? 1000 + Math.random() * (due - 1000) : Math.max(1000, due * (0.75 + Math.random() * 0.25))
  // a socket's renewals end with it: the one opened after a 4002 has its own
  const ws = person.ws
  person.lease = setTimeout(async () => {
    if (person.ws !== ws || ws.readyState !== WebSocket.OPEN) return
    const t0 = performance.now()
    try {
      const { status, body } = await send(`${base}/ws`, person, origin)
      if (status !== 200) return error(`GET /ws (lease renewal) answered ${status}`)
      if (counting) {
        latencies['GET /ws (lease renewal)'] ??= []
        latencies['GET /ws (lease renewal)'].push(performance.now() - t0)
      }
      if (person.ws === ws) keepLease(person, base, origin, JSON.parse(body).expiresAt)
    } catch (err) {
      error(`GET /ws (lease renewal): ${err.message}`)
    }
  }, delay)
}

/** Sockets opened again after their lease ran out (4002), since the last run's report. */
let reconnects = 0

/**
 * The lease cannot outlast the access token it was renewed with, so when the token expires the
 * socket closes with 4002 (identity expired). Then, as the web client does (realtime.ts): ask
 * GET /auth/me, whose 401 refreshes the session (send), and open a new socket. Messages sent
 * meanwhile wait for it (their delivery time includes the wait).
 */
function reconnect(person) {
  person.reconnecting ??= (async () => {
    const me = await send(`${person.base}/auth/me`, person, person.origin)
    if (me.status !== 200) throw new Error(`GET /auth/me answered ${me.status}`)
    const { ws, expiresAt } = await open(person.url, person.origin, person)
    person.ws = ws
    reconnects++
    keepLease(person, person.base, person.origin, expiresAt)
  })()
    .catch((err) => error(`reconnect after 4002: ${err.message}`))
    .finally(() => (person.reconnecting = undefined))
  return person.reconnecting
}

function open(url, origin, person) {
  const { id, cookie, address } = person
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { cookie, origin }, localAddress: address, perMessageDeflate: false, skipUTF8Validation: true })
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)))
    ws.once('error', reject)
    let greeted = false
    ws.on('message', (data) => {
      const at = now()
      if (!greeted) {
        const hello = JSON.parse(data.toString())
        greeted = hello.type === 'hello'
        if (greeted) resolve({ ws, expiresAt: hello.expiresAt })
        return
      }
      onFrame(data, at, id)
    })
    ws.on('close', (code) => {
      if (code === 4002 && person.base) void reconnect(person)
      else if (code !== 1000 && code !== 1005) error(`socket closed ${code}`)
    })
  })
}

async function connect({ url, base, origin, people: list }) {
  const failed = {}
  let next = 0
  const opened = []
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < list.length) {
        const p = list[next++]
        try {
          const person = { ...p, url, base, origin, agent: new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: p.address }) }
          const { ws, expiresAt } = await open(url, origin, person)
          person.ws = ws
          if (p.usesAgent) {
            try {
              await actions.createAgent(person, base, origin)
            } catch (err) {
              ws.close(1000)
              person.agent.destroy()
              throw err
            }
          }
          keepLease(person, base, origin, expiresAt, true)
          opened.push(person)
        } catch (err) {
          failed[err.message] = (failed[err.message] ?? 0) + 1
        }
      }
    })
  )
  people.push(...opened)
  return { ids: opened.map((p) => p.id), failed }
}

const pick = (list) => list[Math.floor(Math.random() * list.length)]
/** exponential intervals around `mean` seconds: a Poisson process per person and action */
const interval = (mean) => -Math.log(1 - Math.random()) * mean * 1000

async function run({ base, origin, seconds, every }) {
  arrivals = new Map()
  counting = true
  const sent = []
  latencies = {}
  actions.begin()
  const end = performance.now() + seconds * 1000
  let seq = 0
  const record = (route, ms) => {
    latencies[route] ??= []
    latencies[route].push(ms)
  }
  const get = async (route, person, path) => {
    const t0 = performance.now()
    try {
      const { status } = await send(base + path, person, origin)
      if (status !== 200) error(`${route} answered ${status}`)
      else record(route, performance.now() - t0)
    } catch (err) {
      error(`${route}: ${err.message}`)
    }
  }
  const sendMessage = async (p, conversationId, text, attachments) => {
    const key = `d${process.pid}-${++seq}-${now().toFixed(3)}`
    if (p.reconnecting) await p.reconnecting
    if (p.ws.readyState !== WebSocket.OPEN) return error('send on a closed socket')
    sent.push([key, conversationId])
    p.ws.send(
      JSON.stringify({
        type: 'message.send',
        conversationId,
        text: text ?? `${pick(WORDS)} day bench ${seq}`,
        clientMessageId: key,
        ...(attachments ? { attachments } : {})
      })
    )
  }
  const ctx = { base, origin, record, sendMessage }
  const act = {
    message: (p) => sendMessage(p, pick(p.conversations)),
    upload: (p) => actions.upload(p, ctx),
    run: (p) => actions.run(p, ctx),
    open: (p) => get('GET /api/chat/conversations/:id/messages', p, `/api/chat/conversations/${pick(p.conversations)}/messages?limit=50`),
    list: (p) => get('GET /api/chat/conversations', p, '/api/chat/conversations?limit=20'),
    search: (p) => get('GET /api/chat/search', p, `/api/chat/search?q=${pick(WORDS)}&limit=20`)
  }
  const timers = []
  for (const p of people) {
    for (const [action, mean] of Object.entries(every)) {
      if (!(mean > 0) || (action === 'run' && !p.agentId)) continue
      const schedule = (delay) => {
        const t = setTimeout(() => {
          if (performance.now() >= end) return
          void act[action](p)
          schedule(interval(mean))
        }, delay)
        timers.push(t)
      }
      schedule(Math.random() * mean * 1000)
    }
  }
  await new Promise((r) => setTimeout(r, seconds * 1000))
  for (const t of timers) clearTimeout(t)
  // the last messages' deliveries and requests in flight
  await new Promise((r) => setTimeout(r, 3000))
  const runs = await actions.settle()
  counting = false
  // errors since the last run's report: closed sockets and failed renewals between runs count too
  const failures = errors
  errors = {}
  return {
    sent,
    arrivals: [...arrivals].map(([k, [n, ms]]) => [k, n, ms]),
    http: latencies,
    runs,
    errors: failures,
    refreshes: takeRefreshes(),
    reconnects: takeReconnects()
  }
}

function takeReconnects() {
  const n = reconnects
  reconnects = 0
  return n
}

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'connect') process.send({ ok: 'connected', ...(await connect(msg)) })
    else if (msg.cmd === 'run') process.send({ ok: 'ran', ...(await run(msg)) })
    else if (msg.cmd === 'close') {
      for (const p of people) {
        clearTimeout(p.lease)
        p.ws.close(1000)
        p.agent.destroy()
      }
      setTimeout(() => process.exit(0), 300)
    }
  } catch (err) {
    process.send({ error: String(err?.stack ?? err) })
  }
})
process.send({ ok: 'ready' })
