import type { Browser, BrowserContext, Page, Request } from 'playwright-core'

/**
 * What a browser test watches on every page: the console and uncaught errors (there must be none,
 * see `ConsoleWatch`), dialogs, and the requests made (to bound how many each view needs).
 */
export interface Person {
  context: BrowserContext
  page: Page
  email: string
  dialogs: string[]
  requests: Request[]
}

/**
 * Console errors and uncaught exceptions, as a person would see them in the developer tools.
 * The one thing let through: Chromium logs every 4xx answer of a fetch as "Failed to load resource";
 * for our own API (`/api/…`, `/auth/…`) those are refusals the page handles and shows (a wrong
 * password, a refused upload), not errors of the page. A 404 for anything else (a favicon) counts.
 */
export class ConsoleWatch {
  readonly errors: string[] = []

  attach(page: Page, label: string): void {
    page.on('pageerror', (e) => this.errors.push(`${label} uncaught: ${e.message}`))
    page.on('console', (m) => {
      if (m.type() !== 'error') return
      const text = m.text()
      const url = m.location().url
      let path = ''
      try {
        path = new URL(url).pathname
      } catch {}
      if (/^Failed to load resource: the server responded with a status of 4\d\d\b/.test(text) && /^\/(api|auth)\//.test(path)) return
      this.errors.push(`${label} console: ${text}${url ? ` (${url})` : ''}`)
    })
  }
}

export async function newPerson(
  browser: Browser,
  origin: string,
  label: string,
  stamp: string,
  watch: ConsoleWatch,
  viewport = { width: 1200, height: 800 }
): Promise<Person> {
  const context = await browser.newContext({ baseURL: origin, viewport })
  const page = await context.newPage()
  const dialogs: string[] = []
  const requests: Request[] = []
  page.on('dialog', (d) => {
    if (d.type() === 'confirm' && d.message() === 'Delete this message?') return void d.accept()
    dialogs.push(`${d.type()}: ${d.message()}`)
    void d.dismiss()
  })
  page.on('request', (r) => requests.push(r))
  watch.attach(page, label)
  return { context, page, email: `${label}-${stamp}@test.palisade.example`, dialogs, requests }
}

export const PASSWORD = 'a long enough password for e2e'

/** Registers through the login page (from `/`, so through the edge's redirect) and waits for the socket. */
export async function register(p: Person, name: string): Promise<void> {
  await p.page.goto('/')
  await p.page.waitForURL(/\/login\?next=/)
  await p.page.getByRole('button', { name: 'Create an account' }).click()
  await p.page.getByLabel('Display name').fill(name)
  await p.page.getByLabel('Email').fill(p.email)
  await p.page.getByLabel('Password').fill(PASSWORD)
  await p.page.getByRole('button', { name: 'Create account' }).click()
  await p.page.waitForURL((u) => u.pathname === '/')
  await p.page.locator('#conn[data-state=online]').waitFor()
}

/** Creates a conversation in `owner`'s browser and adds the others by email; returns its id. */
export async function createConversation(owner: Person, title: string, members: Person[]): Promise<string> {
  await owner.page.getByLabel('New conversation').fill(title)
  await owner.page.getByRole('button', { name: 'Create', exact: true }).click()
  await owner.page.getByRole('heading', { name: title }).waitFor()
  if (members.length) {
    await owner.page.getByRole('button', { name: 'Members' }).click()
    for (const [i, m] of members.entries()) {
      await owner.page.getByLabel('Email', { exact: true }).fill(m.email)
      await owner.page.getByRole('button', { name: 'Add', exact: true }).click()
      await owner.page
        .waitForFunction((n) => document.querySelectorAll('#member-list li').length >= n, i + 2)
        .catch(async (err: Error) => {
          throw new Error(`${err.message}\nadding ${m.email}: ${await pageState(owner.page)}\nlast requests: ${await lastRequests(owner)}`)
        })
    }
    await owner.page.getByRole('button', { name: 'Members' }).click()
  }
  return /#c=([0-9a-f-]{36})/.exec(owner.page.url())![1]!
}

/**
 * What a person would see, for a failure message: where the page is and what it says. A string, not
 * a function: tsx adds `__name` helpers to named functions, which do not exist in the page.
 */
async function pageState(page: Page): Promise<string> {
  return page
    .evaluate(`JSON.stringify({
      url: location.href,
      connection: document.querySelector('#conn')?.getAttribute('data-state'),
      membersPanelHidden: document.querySelector('#members')?.hidden,
      memberList: document.querySelector('#member-list')?.textContent,
      addMemberError: document.querySelector('#add-member-error')?.textContent,
      emailField: document.querySelector('#add-member-email')?.value,
      live: [...document.querySelectorAll('[role=alert], [aria-live]')].map((e) => e.textContent.trim()).filter(Boolean)
    })`)
    .then(String)
    .catch((err: Error) => `(page not readable: ${err.message})`)
}

async function lastRequests(p: Person, n = 12): Promise<string> {
  const lines = await Promise.all(
    p.requests.slice(-n).map(async (r) => {
      // response() waits for an answer still to come: a pending one is reported as such.
      const res = await Promise.race([r.response().catch(() => null), new Promise<undefined>((ok) => setTimeout(ok, 500))])
      if (res === undefined) return `${r.method()} ${new URL(r.url()).pathname} → pending`
      return `${r.method()} ${new URL(r.url()).pathname} → ${res ? res.status() : (r.failure()?.errorText ?? 'pending')}`
    })
  )
  return lines.join('; ')
}

export async function send(p: Person, text: string): Promise<void> {
  await p.page.getByLabel('Message', { exact: true }).fill(text)
  await p.page.keyboard.press('Enter')
}
