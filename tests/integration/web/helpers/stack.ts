import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type Request } from 'playwright-core'
import { startThrowawayStack, type ThrowawayStack } from '@palisade/scripts/stack'

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..', '..')
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'web')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export type Stack = ThrowawayStack

/** The one-command stack (`pnpm start`) with the local edge, on a throwaway database. */
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const stack = await startThrowawayStack({
    name: 'web',
    env: {
      // Many registrations and logins from one address in a few seconds.
      AUTH_RATE_LIMIT_PER_MINUTE: '1000',
      AGENTS_LOCAL_TOKEN_DELAY_MS: '40',
      // A 20 s identity lease: the app renews it every ~5 s with GET /ws (see realtime.ts),
      // so every test below also runs across lease renewals (no lost or doubled message).
      GATEWAY_LEASE_MAX_MS: '20000',
      ...env
    }
  })
  if (!stack.ready) {
    await stack.stop()
    throw new Error(`the stack did not start:\n${stack.output().slice(-4000)}`)
  }
  return stack
}

/** Debian's Chromium, headless, no background traffic, a fresh profile per launch. */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true })
  // playwright-core gives every launch a new temporary --user-data-dir (and refuses one in args).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync'
    ]
  })
}

interface SuiteTest {
  skip(message: string): void
  setTimeout(ms: number): void
  teardown(fn: () => Promise<void>): void
  passing(): boolean
  comment(...message: unknown[]): void
}

/**
 * How every browser test file starts: skipped (the whole file) where Chromium is missing, otherwise
 * a stack and a browser, both closed when the file's tests end.
 */
export async function browserSuite(t: SuiteTest, env: Record<string, string> = {}): Promise<{ stack: Stack; browser: Browser; origin: string }> {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`)
    process.exit(0)
  }
  t.setTimeout(300_000)
  const stack = await startStack(env)
  const browser = await launchChromium()
  const inflight = trackRequests(browser)
  let stopping = false
  void stack.exited.then((code) => {
    if (!stopping) t.comment(`the stack stopped by itself (exit ${code}):\n${stack.output().slice(-6000)}`)
  })
  t.teardown(async () => {
    stopping = true
    // A browser test that times out says little; the services' warnings and crashes say why.
    if (!t.passing()) {
      t.comment(`the stack's output (last 6000 characters):\n${stack.output().slice(-6000)}`)
      t.comment(`requests still unanswered in the browser: ${inflight().join('\n') || 'none'}`)
    }
    await browser.close().catch(() => {})
    await stack.stop()
  })
  return { stack, browser, origin: stack.origin }
}

/**
 * Every context the browser opens reports its requests; what never finished (with its age) tells
 * which hop hung when a test only says that an element never appeared.
 */
function trackRequests(browser: Browser): () => string[] {
  const open = new Map<Request, number>()
  const newContext = browser.newContext.bind(browser)
  browser.newContext = async (...args: Parameters<Browser['newContext']>) => {
    const context = await newContext(...args)
    context.on('request', (r) => open.set(r, Date.now()))
    context.on('requestfinished', (r) => open.delete(r))
    context.on('requestfailed', (r) => open.delete(r))
    return context
  }
  return () => [...open].map(([r, at]) => `${r.method()} ${new URL(r.url()).pathname} (${Math.round((Date.now() - at) / 1000)} s)`)
}
