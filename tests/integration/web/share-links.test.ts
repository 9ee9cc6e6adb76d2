import t from 'tap'
import { browserSuite } from './helpers/stack.js'
import { ConsoleWatch, createConversation, newPerson, register, send } from './helpers/people.js'

/**
 * Issue 31, the Share action in Chromium against the whole stack (SHARE_LINKS=signed-in, the
 * default): a member shares a conversation with an expiry and a use limit, the link is shown once
 * with a copy button, another signed-in person opens it in their own browser context, the creator
 * revokes it from "My links" and the link is refused from then on. With the policy off there is no
 * Share action at all.
 */

const { browser, origin } = await browserSuite(t)
const stamp = Date.now().toString(36)
const watch = new ConsoleWatch()
const kim = await newPerson(browser, origin, 'kim', stamp, watch)
const lee = await newPerson(browser, origin, 'lee', stamp, watch)
await kim.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin })
await register(kim, 'Kim')
await register(lee, 'Lee')
const title = `Shared ${stamp}`
const conversationId = await createConversation(kim, title, [])
await send(kim, 'the plan, as agreed')
await kim.page.locator('#messages .msg.mine:not(.pending) .text', { hasText: 'the plan, as agreed' }).waitFor({ timeout: 60_000 })
const page = kim.page
let url = ''

await t.test('create a link: expiry and use limit, shown once with a copy button', async (t) => {
  await page.getByRole('button', { name: 'Share conversation' }).click()
  const dialog = page.getByRole('dialog', { name: `Share “${title}”` })
  await dialog.waitFor()
  t.equal(await dialog.getByLabel(/Expires after/).inputValue(), '7', 'seven days unless chosen otherwise')
  t.match(await dialog.textContent(), /Anyone with the link and a Palisade account can open it/, 'says who can open it')
  await dialog.getByLabel(/Expires after/).fill('91')
  await dialog.getByRole('button', { name: 'Create link' }).click()
  t.equal(await dialog.locator('[role=alert]').first().textContent(), 'Choose from 1 to 90 days.', 'at most 90 days, said before anything is sent')
  await dialog.getByLabel(/Expires after/).fill('3')
  await dialog.getByLabel('Most openings (optional)').fill('5')
  await dialog.getByRole('button', { name: 'Create link' }).click()
  const link = dialog.getByLabel('Link', { exact: true })
  await link.waitFor()
  url = await link.inputValue()
  t.match(url, new RegExp(`^${origin}/api/files/shared/[A-Za-z0-9_-]{43}$`), 'the signed-in link, on this origin')
  t.match(await dialog.textContent(), /shown only this once/)
  await dialog.getByRole('button', { name: 'Copy link' }).click()
  await dialog.getByRole('button', { name: 'Copied' }).waitFor()
  t.equal(await page.evaluate(() => navigator.clipboard.readText()), url, 'copy puts the link on the clipboard')

  const mine = dialog.locator('.share-links li.share-link')
  await mine.first().waitFor()
  t.equal(await mine.count(), 1, '"My links" lists it')
  const label = (await mine.first().textContent()) ?? ''
  t.match(label, /Conversation “Shared/, 'named')
  t.match(label, /opened 0 of 5 times · active/)
  const listed = (await (await page.request.get('/api/files/shares')).json()) as { links: { expiresAt: string; maxUses: number }[] }
  const days = (Date.parse(listed.links[0]!.expiresAt) - Date.now()) / 86_400_000
  t.ok(days > 2.9 && days <= 3, `expires in 3 days (${days.toFixed(3)})`)
  t.equal(listed.links[0]!.maxUses, 5)
  t.notOk(JSON.stringify(listed).includes(url.split('/').pop()!), 'the token is not in the list: it was shown once')

  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'detached' })
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Share conversation', 'focus goes back to the Share button')
})

await t.test('another signed-in person opens it in their own browser', async (t) => {
  const res = await lee.page.goto(url)
  t.equal(res?.status(), 200)
  await lee.page.getByText('the plan, as agreed').waitFor()
  t.pass('the snapshot shows the message')
  t.equal(res?.headers()['referrer-policy'], 'no-referrer')
  t.notOk(await lee.page.getByText(kim.email).count(), 'no email address in it')
})

await t.test('revoked from "My links": the link is refused at once', async (t) => {
  await page.getByRole('button', { name: 'Share conversation' }).click()
  const dialog = page.getByRole('dialog', { name: `Share “${title}”` })
  const item = dialog.locator('.share-links li.share-link').first()
  await item.getByText(/opened 1 of 5 times/).waitFor()
  t.pass('the opening is counted')
  t.equal(await dialog.getByLabel('Link', { exact: true }).count(), 0, 'the link itself is not shown again')
  await item.getByRole('button', { name: /^Revoke link/ }).click()
  await item.getByText(/· revoked$/).waitFor()
  t.equal(await item.getByRole('button', { name: /^Revoke link/ }).count(), 0, 'a revoked link offers no Revoke')
  await dialog.getByRole('button', { name: 'Close' }).click()

  const res = await lee.page.goto(url)
  t.equal(res?.status(), 404, 'the other person is refused')
  t.notOk(await lee.page.getByText('the plan, as agreed').count())
})

await t.test('a file attachment has a Share action too', async (t) => {
  await page.locator('#file-input').setInputFiles({ name: `notes-${stamp}.txt`, mimeType: 'text/plain', buffer: Buffer.from('file for sharing') })
  // Like a message's own actions, it shows when the message is hovered or has focus.
  const attachment = page.locator('#messages .msg', { has: page.locator('.attachment a', { hasText: `notes-${stamp}.txt` }) })
  await attachment.waitFor({ timeout: 60_000 })
  await attachment.hover()
  const share = page.getByRole('button', { name: `Share notes-${stamp}.txt` })
  await share.waitFor()
  await share.click()
  const dialog = page.getByRole('dialog', { name: `Share “notes-${stamp}.txt”` })
  await dialog.getByRole('button', { name: 'Create link' }).click()
  const fileUrl = await dialog.getByLabel('Link', { exact: true }).inputValue()
  const got = await lee.page.request.get(fileUrl)
  t.equal(got.status(), 200)
  t.equal(await got.text(), 'file for sharing', 'the other person downloads it')
  t.match(got.headers()['content-disposition'], /^attachment/)
  await page.keyboard.press('Escape')
})

await t.test('policy off: no Share action', async (t) => {
  const off = await newPerson(browser, origin, 'kim-off', stamp, watch)
  // The same account in a second context, told what a deployment with SHARE_LINKS=off answers.
  await off.context.addCookies(await kim.context.cookies())
  await off.page.route('**/api/files/limits', async (route) => {
    const real = await route.fetch()
    await route.fulfill({ response: real, json: { ...(await real.json()), shareLinks: 'off' } })
  })
  const limitsAnswered = off.page.waitForResponse((r) => r.url().endsWith('/api/files/limits'))
  await off.page.goto(`/#c=${conversationId}`)
  await off.page.getByRole('heading', { name: title }).waitFor()
  // Hidden buttons are not in the accessibility tree: found by their place, then checked hidden.
  const fileShare = off.page.locator('#messages .attachment button.share')
  await fileShare.waitFor({ state: 'attached', timeout: 60_000 })
  await limitsAnswered
  await off.page.evaluate(() => new Promise((r) => setTimeout(r, 50)))
  t.ok(await off.page.locator('#share-conversation').isHidden(), 'no Share for the conversation')
  await off.page.locator('#messages .msg', { has: off.page.locator('.attachment button.share') }).hover()
  t.ok(await fileShare.isHidden(), 'nor for a file, even on hover')
  t.equal(await fileShare.evaluate((b) => (b as HTMLButtonElement).hidden), true, 'hidden by the policy, not only by the hover rule')
})

t.test('no console errors', async (t) => {
  t.same(watch.errors, [])
})
