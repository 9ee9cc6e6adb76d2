import t from 'tap'
import { browserSuite } from './helpers/stack.js'
import { ConsoleWatch, createConversation, newPerson, register, send } from './helpers/people.js'

/**
 * An open tab keeps its socket across access-token expiries: the gateway caps the identity lease at
 * the token's expiry, so the tab refreshes its session before then (realtime.ts) instead of being
 * closed with 4002 and reconnecting (an offline/online flicker to all its peers, and a reconnect wave
 * when people signed in together). A 60 s token (auth's minimum) and the helpers' 20 s lease.
 */

const TTL_SECONDS = 60
const { browser, origin } = await browserSuite(t, { AUTH_ACCESS_TTL_SECONDS: String(TTL_SECONDS) })
const stamp = Date.now().toString(36)
const watch = new ConsoleWatch()
const alice = await newPerson(browser, origin, 'ada', stamp, watch)
const bob = await newPerson(browser, origin, 'bo', stamp, watch)

await t.test('the socket outlives the access token it was opened with', async (t) => {
  const signedIn = Date.now()
  await register(alice, 'Ada')
  await register(bob, 'Bo')
  const title = `Token expiry ${stamp}`
  await createConversation(alice, title, [bob])
  await bob.page.locator('#conv-list button', { hasText: title }).click()
  await bob.page.getByRole('heading', { name: title }).waitFor()

  // Every state the status line shows from now on (a string: the test runner's transform would
  // add helpers the page does not have).
  await alice.page.evaluate(`(() => {
    const conn = document.getElementById('conn')
    window.__states = []
    new MutationObserver(() => window.__states.push(conn.dataset.state)).observe(conn, { attributes: true, attributeFilter: ['data-state'] })
  })()`)
  const opened: string[] = []
  alice.page.on('websocket', (ws) => opened.push(ws.url()))
  const refreshes: number[] = []
  alice.page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/auth/refresh') refreshes.push(r.status())
  })

  // Past the expiry of the token Alice signed in with, with time to spare for a reconnect to show.
  await alice.page.waitForTimeout(Math.max(0, signedIn + (TTL_SECONDS + 15) * 1000 - Date.now()))

  t.ok(refreshes.length >= 1, `the tab refreshed its session (${refreshes.join(', ')})`)
  t.same([...new Set(refreshes)], [200], 'every refresh succeeded')
  t.same(await alice.page.evaluate('window.__states'), [], 'the status line never left online')
  t.same(opened, [], 'no socket was opened again')
  t.equal(await alice.page.locator('#conn').getAttribute('data-state'), 'online', 'still online')

  await send(bob, 'after the token expired')
  await alice.page.locator('#messages .msg .text', { hasText: 'after the token expired' }).waitFor()
  t.pass('a message sent after the expiry arrives live')
  t.same(watch.errors, [], 'no console error or uncaught exception')
})
