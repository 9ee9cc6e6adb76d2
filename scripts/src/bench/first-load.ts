/**
 * First load to usable chat, in Chromium, through the local edge (issue #30: under 1 s on this
 * machine). A signed-in person opens a link to one of their 20 conversations; "usable" is the moment
 * the page shows the conversation list, the conversation's newest message, a composer that takes
 * input, and an open socket (a message typed now is sent). Measured in the page from the navigation's
 * start (`performance.now()`), so the browser's driver adds nothing. Rows: a cold load (a new browser
 * context: no HTTP cache, no connections) and a warm one (a reload in the same context).
 */
import { loadavg } from 'node:os'
import { chromium, type Browser, type BrowserContext } from 'playwright-core'
import { AUTH_COOKIES } from '@palisade/contracts'
import { startThrowawayStack, type ThrowawayStack } from '../stack/throwaway.js'
import { latencyRow, type Bench, type Measurement, type RunOptions } from './framework.js'

export const FIRST_LOAD_ROWS = {
  cold: 'web: first load to usable chat (cold: new context)',
  warm: 'web: load to usable chat again (warm: HTTP cache)'
}

const CONVERSATIONS = 20
const MESSAGES = 60
const PASSWORD = 'a long benchmark password'

interface UsableWindow {
  __usableAt?: number
}

/**
 * Runs in the page on every animation frame until the chat is usable, then keeps the time. Passed as
 * a function (a string would be evaluated in the page, which its CSP forbids) and with no named
 * inner functions (the TypeScript loader would name them through a helper the page lacks).
 */
function usable({ lastText, conversations }: { lastText: string; conversations: number }): boolean {
  const w = window as unknown as UsableWindow
  if (w.__usableAt) return true
  const list = document.querySelectorAll('#conv-list li').length >= conversations
  const last = Array.from(document.querySelectorAll('#messages .msg')).some((m) => (m.textContent ?? '').includes(lastText))
  const box = document.querySelector<HTMLTextAreaElement>('#composer-text')
  const online = document.querySelector<HTMLElement>('#conn')?.dataset.state === 'online'
  if (list && last && box && !box.disabled && online) w.__usableAt = performance.now()
  return Boolean(w.__usableAt)
}

interface Person {
  cookie: { name: string; value: string }
  conversationId: string
  lastText: string
}

/** One account with 20 conversations; the one linked to holds 60 messages from two people. */
async function seedPerson(stack: ThrowawayStack): Promise<Person> {
  const base = `http://127.0.0.1:${stack.port}`
  const origin = stack.origin
  const stamp = Date.now().toString(36)
  const call = async (path: string, body: unknown, cookie?: string) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body)
    })
    if (res.status >= 300) throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`)
    return res
  }
  const signIn = async (label: string) => {
    const email = `first-load-${label}-${stamp}@bench.palisade.example`
    const user = (await (await call('/auth/register', { email, password: PASSWORD, displayName: `Reader ${label}` })).json()) as { id: string }
    const login = await call('/auth/login', { email, password: PASSWORD })
    const access = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith(`${AUTH_COOKIES.access}=`))
    if (!access) throw new Error('login set no access cookie')
    return { id: user.id, cookie: access }
  }
  const reader = await signIn('a')
  const writer = await signIn('b')
  let conversationId = ''
  for (let i = 0; i < CONVERSATIONS; i++) {
    const conv = (await (await call('/api/chat/conversations', { title: `Team ${i + 1}` }, reader.cookie)).json()) as { id: string }
    await call(`/api/chat/conversations/${conv.id}/members`, { userId: writer.id }, reader.cookie)
    conversationId ||= conv.id
  }
  let lastText = ''
  for (let i = 0; i < MESSAGES; i++) {
    lastText = `message ${i + 1} of the linked conversation, with some words to wrap in the list`
    const who = i % 2 ? reader : writer
    await call(`/api/chat/conversations/${conversationId}/messages`, { text: lastText, clientMessageId: `first-load-${i}` }, who.cookie)
  }
  const [name, value] = reader.cookie.split('=') as [string, string]
  return { cookie: { name, value }, conversationId, lastText }
}

async function newContext(browser: Browser, stack: ThrowawayStack, person: Person): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } })
  await context.addCookies([{ ...person.cookie, url: stack.origin, httpOnly: true, sameSite: 'Lax' }])
  return context
}

/** Milliseconds from the navigation's start to usable chat. */
async function loadOnce(context: BrowserContext, stack: ThrowawayStack, person: Person): Promise<number> {
  const page = context.pages()[0] ?? (await context.newPage())
  await page.goto('about:blank')
  await page.goto(`${stack.origin}/#c=${person.conversationId}`, { waitUntil: 'commit' })
  await page.waitForFunction(usable, { lastText: person.lastText, conversations: CONVERSATIONS }, { polling: 'raf', timeout: 30_000 })
  return page.evaluate(() => (window as unknown as UsableWindow).__usableAt ?? Number.NaN)
}

export const firstLoadBench: Bench = {
  name: 'first-load',
  description: 'web: first load to usable chat in Chromium through the edge (20 conversations, 60 messages)',
  async setup() {
    const stack = await startThrowawayStack({
      name: 'bench',
      readyTimeoutMs: 180_000,
      env: { PALISADE_LOG_LEVEL: 'warn', AUTH_RATE_LIMIT_PER_MINUTE: '100000' }
    })
    let browser: Browser | undefined
    try {
      if (!stack.ready) throw new Error(`the stack did not start: ${stack.output().slice(-2000)}`)
      const person = await seedPerson(stack)
      browser = await chromium.launch({
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-quic']
      })
      const chrome = browser
      return {
        targets: [],
        goals: [{ target: FIRST_LOAD_ROWS.cold, maxP99Ms: 1000 }],
        async measure(opts: RunOptions): Promise<Measurement[]> {
          const seconds = Math.max(1, opts.durationSeconds)
          const cold: number[] = []
          const warm: number[] = []
          const end = Date.now() + (opts.warmupSeconds + seconds) * 1000
          const measuredFrom = Date.now() + opts.warmupSeconds * 1000
          while (Date.now() < end || cold.length < 3) {
            const context = await newContext(chrome, stack, person)
            try {
              const first = await loadOnce(context, stack, person)
              const again = await loadOnce(context, stack, person)
              if (Date.now() >= measuredFrom) {
                cold.push(first)
                warm.push(again)
              }
            } finally {
              await context.close()
            }
          }
          process.stdout.write(`first-load: ${cold.length} cold and warm loads, load average ${loadavg()[0]!.toFixed(1)}\n`)
          return [latencyRow(FIRST_LOAD_ROWS.cold, cold, seconds), latencyRow(FIRST_LOAD_ROWS.warm, warm, seconds)]
        },
        async teardown() {
          await chrome.close()
          await stack.stop()
        }
      }
    } catch (err) {
      await browser?.close()
      await stack.stop()
      throw err
    }
  }
}
