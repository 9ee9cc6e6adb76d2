import t from 'tap'
import { existsSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import type { Browser } from 'playwright-core'
import { CHROMIUM, launchChromium, startStack, type Stack } from './helpers/stack.js'
import { ConsoleWatch, createConversation, newPerson, register } from './helpers/people.js'

/**
 * Issue 31: the end of a malware scan reaches the page as a `file.scanned` frame and the attachment
 * changes state in place, for the uploader and a member, without a reload or another metadata
 * request. A minimal clamd holds each verdict until the test releases it; everything of ours is real.
 */

if (!existsSync(CHROMIUM)) {
  t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`)
  process.exit(0)
}

/** Streams held by the fake clamd, answered when the test says so (by a marker in the file). */
const held = new Map<string, Socket>()
const clamd = createServer((socket: Socket) => {
  let buf = Buffer.alloc(0)
  socket.on('error', () => {})
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d])
    let off = buf.indexOf(0) + 1
    while (off > 0 && off + 4 <= buf.length) {
      const len = buf.readUInt32BE(off)
      if (len === 0) {
        const marker = /marker-(\w+)/.exec(buf.toString('latin1'))?.[1] ?? 'none'
        held.set(marker, socket)
        return
      }
      off += 4 + len
    }
  })
})
await new Promise<void>((r) => clamd.listen(0, '127.0.0.1', r))
t.teardown(() => new Promise((r) => clamd.close(r)))
const clamdPort = (clamd.address() as { port: number }).port

async function verdict(marker: string, answer: string): Promise<void> {
  for (let i = 0; i < 600 && !held.has(marker); i++) await new Promise((r) => setTimeout(r, 100))
  const socket = held.get(marker)
  if (!socket) throw new Error(`the scanner never sent ${marker}`)
  socket.end(`stream: ${answer}\0`)
}

t.setTimeout(300_000)
const stack: Stack = await startStack({ FILES_SCAN_MODE: 'clamd', FILES_CLAMD_ADDRESS: `tcp://127.0.0.1:${clamdPort}` })
const browser: Browser = await launchChromium()
t.teardown(async () => {
  for (const s of held.values()) s.destroy()
  await browser.close().catch(() => {})
  await stack.stop()
})
const stamp = Date.now().toString(36)
const watch = new ConsoleWatch()
const ida = await newPerson(browser, stack.origin, 'ida', stamp, watch)
const jon = await newPerson(browser, stack.origin, 'jon', stamp, watch)
const metaRequests = (requests: { url(): string }[]) => requests.filter((r) => /^\/api\/files\/[0-9a-f-]{36}$/.test(new URL(r.url()).pathname)).length

await t.test('a scan verdict changes the attachment in place for the uploader and a member', async (t) => {
  await register(ida, 'Ida')
  await register(jon, 'Jon')
  const id = await createConversation(ida, `Scans ${stamp}`, [jon])
  await jon.page.goto(`/#c=${id}`)
  await jon.page.getByRole('heading', { name: `Scans ${stamp}` }).waitFor()

  await ida.page.locator('#file-input').setInputFiles({ name: 'report.txt', mimeType: 'text/plain', buffer: Buffer.from('numbers marker-clean\n') })
  for (const p of [ida, jon]) {
    const held = p.page.locator('#messages .attachment[data-status=pending]', { hasText: 'report.txt' })
    await held.waitFor()
    t.match(await held.textContent(), /waiting for the malware scan/, 'shown as waiting')
    t.equal(await held.locator('a').count(), 0, 'and no link to content the service refuses')
  }
  const before = [metaRequests(ida.requests), metaRequests(jon.requests)]
  await verdict('clean', 'OK')
  for (const p of [ida, jon]) await p.page.locator('#messages .attachment[data-status=clean] a', { hasText: 'report.txt' }).waitFor()
  t.pass('both see the clean file as a download, without a reload')
  t.same([metaRequests(ida.requests), metaRequests(jon.requests)], before, 'from the frame alone: no metadata asked again')

  await ida.page.locator('#file-input').setInputFiles({ name: 'bad.txt', mimeType: 'text/plain', buffer: Buffer.from('payload marker-bad\n') })
  await jon.page.locator('#messages .attachment[data-status=pending]', { hasText: 'bad.txt' }).waitFor()
  await verdict('bad', 'Eicar-Test-Signature FOUND')
  const blocked = jon.page.locator('#messages .attachment[data-status=infected]', { hasText: 'bad.txt' })
  await blocked.waitFor()
  t.match(await blocked.textContent(), /malware was found/, 'an infected file says so')
  t.equal(await blocked.locator('a').count(), 0)
})

await t.test('no page logged a console error or threw', async (t) => {
  t.same(watch.errors, [])
})
