// The isolation suite's logic that runs everywhere (no root, no namespaces): verdicts, the JUnit
// writer, the table, header spellings, the expired-assertion forgery, the test-only no-strip knob
// and the TCP/HTTP helpers against local listeners on 127.0.0.1.
import t from 'tap'
import http, { type IncomingMessage } from 'node:http'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDENTITY_HEADERS, isProtectedHeader } from '@palisade/contracts'
import { generateSigningKey, signAssertion, signingKeyToPem, verifyAssertion, AssertionError } from '@palisade/platform'
import { check, probeResult, renderJUnit, renderTable } from '../src/isolation/report.js'
import { expiredCopy, headerSpellings } from '../src/isolation/probes.js'
import { secretValue } from '../src/isolation/secret-value.js'
import { httpRequest, tcpProbe, wsHandshake } from '../src/isolation/net.js'
import { freezeClientIdentity } from '../src/isolation/broken.js'
import { netnsUnavailable } from '../src/isolation/netns.js'

t.test('a probe passes only when it checked something and every check passed', async (t) => {
  t.equal(probeResult(1, 'p', 'e', []).pass, false, 'no checks → fail (a probe that could not look must not pass)')
  t.match(probeResult(1, 'p', 'e', []).observed, /no check could run/)
  t.equal(probeResult(1, 'p', 'e', [check('a', '401', '401', true)]).pass, true)
  const mixed = probeResult(2, 'p', 'e', [check('a', '401', '401', true), check('b', '401', '200', false)])
  t.equal(mixed.pass, false)
  t.match(mixed.observed, /1\/2 checks failed: b → 200/)
})

t.test('JUnit XML: a suite per probe, a case per check, failures counted and escaped', async (t) => {
  const results = [
    probeResult(1, 'only <edge> & "friends"', 'e', [check('a', '401', '401', true), check(`b <x> & 'y'`, '401', '200\u0001', false)], 1234),
    probeResult(2, 'empty', 'e', [])
  ]
  const xml = renderJUnit(results)
  t.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="palisade-isolation" tests="3" failures="2" time="1.234">/)
  t.match(xml, /<testsuite name="probe 1: only &lt;edge&gt; &amp; &quot;friends&quot;" tests="2" failures="1" time="1.234">/)
  t.match(xml, /<testcase classname="isolation.probe1" name="a"\/>/)
  t.match(xml, /<testcase classname="isolation.probe1" name="b &lt;x&gt; &amp; &apos;y&apos;">\n\s+<failure message="expected 401, observed 200">/)
  t.notMatch(xml, /\u0001/, 'control characters are dropped (invalid in XML 1.0)')
  t.match(xml, /<testsuite name="probe 2: empty" tests="1" failures="1"/, 'a probe without checks is one failing case')
  t.equal((xml.match(/<testsuite /g) ?? []).length, 2)
  t.equal((xml.match(/<\/testsuite>/g) ?? []).length, 2)
})

t.test('the table shows expected, observed and PASS/FAIL for every check', async (t) => {
  const out = renderTable([probeResult(3, 'edge', 'denials', [check('API', '401', '401', true), check('WS', '403', '101', false)])])
  t.match(out, /Probe 3: edge — FAIL/)
  t.match(out, /API\s+\| 401\s+\| 401\s+\| PASS/)
  t.match(out, /WS\s+\| 403\s+\| 101\s+\| FAIL/)
  t.match(out, /0\/1 probes passed; FAILED: 3/)
})

t.test('header spellings: every one is a protected header, the first is what services read', async (t) => {
  const s = headerSpellings(IDENTITY_HEADERS.user)
  t.same(s, ['X-Authenticated-User', 'x-authenticated-user', 'X_Authenticated_User', 'x_authenticated_user', 'X.Authenticated.User'])
  for (const n of s) t.ok(isProtectedHeader(n), n)
})

t.test('expiredCopy: a correctly signed assertion that only fails on its expiry', async (t) => {
  const key = generateSigningKey()
  const { token } = signAssertion(key, {
    issuer: 'palisade-auth',
    audience: 'chat',
    userId: '00000000-0000-4000-8000-000000000001',
    sessionId: '00000000-0000-4000-8000-000000000002',
    roles: []
  })
  const expired = expiredCopy(token, signingKeyToPem(key))
  const opts = { issuer: 'palisade-auth', audience: 'chat' as const, keyFor: async () => key.publicKey }
  await t.resolves(verifyAssertion(token, opts), 'the original verifies')
  await t.rejects(verifyAssertion(expired, opts), AssertionError)
  await t.rejects(verifyAssertion(expired, opts), /expired/, 'rejected for its expiry, not its signature')
  const claims = JSON.parse(Buffer.from(expired.split('.')[1]!, 'base64url').toString())
  t.ok(claims.exp < Date.now() / 1000 - 300)
})

t.test('secretValue reads file: values', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iso-unit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 's'), 'hunter2\n')
  t.equal(secretValue(`file:${join(dir, 's')}`), 'hunter2')
  t.equal(secretValue('plain'), 'plain')
})

t.test('the no-strip knob keeps the client identity headers against deletion and overwrite', async (t) => {
  const req = { headers: { 'x-authenticated-user': 'forged', x_authenticated_session: 's', accept: 'a' } } as unknown as IncomingMessage
  freezeClientIdentity(req)
  delete req.headers['x-authenticated-user']
  delete req.headers.x_authenticated_session
  delete req.headers.accept
  req.headers['x-authenticated-user'] = 'real'
  req.headers['x-authenticated-assertion'] = 'from auth'
  t.same({ ...req.headers }, { 'x-authenticated-user': 'forged', x_authenticated_session: 's', 'x-authenticated-assertion': 'from auth' })
})

t.test('net helpers against 127.0.0.1', async (t) => {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ seen: req.headers.x_authenticated_user ?? null }))
  })
  server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n'))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  t.equal(await tcpProbe('127.0.0.1', port), 'open')
  const closed = createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const closedPort = (closed.address() as { port: number }).port
  await new Promise<void>((r) => closed.close(() => r()))
  t.equal(await tcpProbe('127.0.0.1', closedPort), 'refused')
  const r = await httpRequest(`http://127.0.0.1:${port}/x`, { headers: { X_Authenticated_User: 'u' } })
  t.equal(r.status, 200)
  t.same(JSON.parse(r.body), { seen: 'u' }, 'underscore spellings go out as written')
  t.equal((await httpRequest(`http://127.0.0.1:${closedPort}/`)).status, 0, 'a network failure is status 0')
  t.equal(await wsHandshake(`ws://127.0.0.1:${port}/ws`, {}), 403)
})

t.test('netnsUnavailable names a reason or undefined', async (t) => {
  const why = netnsUnavailable()
  t.ok(why === undefined || (typeof why === 'string' && why.length > 0))
})
