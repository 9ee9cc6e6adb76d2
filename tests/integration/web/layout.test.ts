import t from 'tap'
import { join } from 'node:path'
import { ARTIFACTS, browserSuite } from './helpers/stack.js'
import { ConsoleWatch, createConversation, newPerson, register, send } from './helpers/people.js'
import { axe } from './helpers/axe.js'

/**
 * Issue 24: accessibility (axe-core, no violation of any impact, on every page and panel there is)
 * and the phone layout (390×844): one-row top bar, the message box always on screen, 44 px targets,
 * a folding agent bar, a drawer that leaves the top bar usable.
 */

const { browser, origin } = await browserSuite(t)
const stamp = Date.now().toString(36)
const watch = new ConsoleWatch()
const gwen = await newPerson(browser, origin, 'gwen', stamp, watch)
const hal = await newPerson(browser, origin, 'hal', stamp, watch)
const title = `Layout ${stamp}`

await t.test('axe: no violations of any impact on the login page, chat, members, account and admin', async (t) => {
  const page = gwen.page
  await page.goto('/login')
  const found = [...(await axe(page, 'login'))]
  await page.getByRole('button', { name: 'Create an account' }).click()
  await page.getByRole('button', { name: 'Create account' }).click() // every field in error
  found.push(...(await axe(page, 'register with errors')))
  await register(gwen, 'Gwen')
  await register(hal, 'Hal')
  found.push(...(await axe(page, 'empty app')))
  await createConversation(gwen, title, [hal])
  await send(gwen, 'hello Hal')
  await page.locator('#messages .msg:not(.pending)', { hasText: 'hello Hal' }).waitFor()
  found.push(...(await axe(page, 'chat')))
  await page.getByRole('button', { name: 'Members' }).click()
  await page.locator('#member-list li', { hasText: 'Hal' }).waitFor()
  found.push(...(await axe(page, 'members')))
  await page.getByRole('button', { name: 'Account' }).click()
  await page.locator('#session-list li').first().waitFor()
  found.push(...(await axe(page, 'account')))
  await page.emulateMedia({ colorScheme: 'dark' })
  await page.getByRole('button', { name: 'Close' }).last().click()
  found.push(...(await axe(page, 'chat, dark')))
  // Gwen registered first: she is the installation's admin.
  await page.getByRole('button', { name: 'Admin', exact: true }).click()
  await page.getByRole('heading', { name: 'Administration' }).waitFor()
  await page.locator('#audit-chain', { hasText: 'Hash chain verified' }).waitFor()
  found.push(...(await axe(page, 'admin, dark')))
  await page.emulateMedia({ colorScheme: 'light' })
  found.push(...(await axe(page, 'admin')))
  await page.locator('#admin-q').fill('hal')
  await page.locator('#admin-q').press('Enter')
  await page.locator('#admin-users button', { hasText: hal.email }).click()
  await page.locator('#admin-user-title', { hasText: hal.email }).waitFor()
  await page.locator('#admin-user-sessions li').first().waitFor()
  found.push(...(await axe(page, 'admin, a user')))
  await page.getByRole('button', { name: 'Close' }).last().click()
  t.same(found, [], 'no violations')
})

await t.test('phone (390×844): the message box is always on screen and every control is a 44 px target', async (t) => {
  const page = hal.page
  await page.setViewportSize({ width: 390, height: 844 })
  await page.getByRole('button', { name: 'Conversations' }).click()
  // The drawer opens under the top bar: Account and Sign out stay reachable above it.
  for (const name of ['Account', 'Sign out']) {
    const hit = await page.getByRole('button', { name }).evaluate((b) => {
      const r = b.getBoundingClientRect()
      return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === b
    })
    t.ok(hit, `${name} is not covered by the open drawer`)
  }
  await page.locator('#conv-list button', { hasText: title }).click()
  await page.locator('#messages .msg', { hasText: 'hello Hal' }).waitFor()
  const topbar = await page.locator('.topbar').boundingBox()
  t.ok(topbar!.height <= 56, `the top bar is one row (${topbar!.height} px)`)
  for (const name of ['Message', 'Send']) {
    const box = await (name === 'Send' ? page.getByRole('button', { name: 'Send' }) : page.getByLabel('Message', { exact: true })).boundingBox()
    t.ok(box && box.y >= 0 && box.y + box.height <= 844, `${name} is inside the screen (${box?.y}–${box && box.y + box.height})`)
  }
  t.ok(await page.locator('#agent-bar').isHidden(), 'the agent bar is folded')
  const toggle = page.getByRole('button', { name: 'Agent', exact: true })
  await toggle.click()
  t.equal(await toggle.getAttribute('aria-expanded'), 'true')
  t.ok(await page.getByRole('button', { name: 'Run agent on message box' }).isVisible(), 'and opens')
  const send = await page.getByRole('button', { name: 'Send' }).boundingBox()
  t.ok(send && send.y + send.height <= 844, 'the message box is still on screen with it open')
  await toggle.click()
  // Every visible control on screen, the message actions of a hovered message included.
  await page.locator('#messages .msg', { hasText: 'hello Hal' }).click()
  const small = await page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('button, input:not([type=file]), select, textarea, label.file-pick, [role=button]')]
      .filter((e) => {
        const r = e.getBoundingClientRect()
        return r.width > 0 && r.height > 0 && !e.closest('.visually-hidden') && r.bottom > 0 && r.top < innerHeight
      })
      .filter((e) => {
        const r = e.getBoundingClientRect()
        return r.width < 44 || r.height < 44
      })
      .map(
        (e) =>
          `${e.tagName.toLowerCase()}#${e.id} "${(e.textContent ?? '').trim().slice(0, 20)}" ${Math.round(e.getBoundingClientRect().width)}×${Math.round(e.getBoundingClientRect().height)}`
      )
  )
  t.same(small, [], 'no control smaller than 44×44 px')
  t.equal(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true, 'nothing wider than the screen')
  await page.screenshot({ path: join(ARTIFACTS, '10-phone-conversation.png') })
  t.ok(await page.evaluate(() => document.scrollingElement!.scrollHeight <= innerHeight + 1), 'the page itself does not scroll: only the message list does')
})

await t.test('no page of the run logged a console error or threw', async (t) => {
  t.same(watch.errors, [])
})
