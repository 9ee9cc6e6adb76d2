import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { test } from 'tap'
import { freePort, freePortBase } from '../src/testing/index.js'

const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(port, '127.0.0.1', () => resolve(s))
  })

// A port chosen inside the ephemeral range can become an outgoing connection's local port before the
// test binds it (a CI run of the web e2e test failed with EADDRINUSE that way).
test('test ports are chosen below the ephemeral range and can be bound', async (t) => {
  for (let i = 0; i < 20; i++) {
    const port = await freePort()
    t.ok(port >= 10000 && port < ephemeralStart, `${port} below ${ephemeralStart}`)
  }
  const base = await freePortBase(6)
  t.ok(base + 6 < ephemeralStart)
  const servers = await Promise.all([1, 2, 3, 4, 5, 6].map((o) => listen(base + o)))
  t.equal(servers.length, 6, 'base+1 … base+6 all bind')
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
})

test('a range with one port taken is skipped', async (t) => {
  const base = await freePortBase(3)
  const held = await listen(base + 2)
  t.teardown(() => new Promise((r) => held.close(r)))
  // The first candidate is the held range, the next one the range just above it.
  const span = ephemeralStart - 10000 - 3 - 1
  const picks = [(base - 10000 + 0.5) / span, (base + 10 - 10000 + 0.5) / span]
  const random = Math.random
  Math.random = () => picks.shift() ?? random()
  t.teardown(() => {
    Math.random = random
  })
  t.equal(await freePortBase(3), base + 10)
  t.equal(picks.length, 0, 'the held range was tried first')
})
