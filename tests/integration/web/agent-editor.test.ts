import t from 'tap'
import { browserSuite } from './helpers/stack.js'
import { ConsoleWatch, createConversation, newPerson, register } from './helpers/people.js'

/**
 * Issue 27, the agent editor and agent replies, in Chromium against the whole stack: creating and
 * editing an agent with the keyboard, the API's refusals next to their field, the reply labelled
 * with the agent's name, copy, regenerate, and a cancelled run keeping its partial text.
 */

const { browser, origin } = await browserSuite(t)
const stamp = Date.now().toString(36)
const watch = new ConsoleWatch()
const erin = await newPerson(browser, origin, 'erin', stamp, watch)
const finn = await newPerson(browser, origin, 'finn', stamp, watch)
await erin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin })
await register(erin, 'Erin')
await register(finn, 'Finn')
const conversationId = await createConversation(erin, `Agents ${stamp}`, [finn])
await finn.page.goto(`/#c=${conversationId}`)
await finn.page.getByRole('heading', { name: `Agents ${stamp}` }).waitFor()
const page = erin.page

interface AgentJson {
  id: string
  name: string
  instructions: string
  provider: string
  model: string
  tools: string[]
  dataEgress: string[]
  temperature: number | null
  sharedConversationId: string | null
}
const myAgents = async (): Promise<AgentJson[]> => ((await (await page.request.get('/api/agents')).json()) as { agents: AgentJson[] }).agents

await t.test('create an agent with the keyboard; mistakes are named next to their field', async (t) => {
  await page.getByRole('button', { name: 'New agent' }).click()
  const dialog = page.getByRole('dialog', { name: 'New agent' })
  await dialog.waitFor()
  t.equal(await page.evaluate(() => document.activeElement?.id), 'agent-name', 'focus starts on the name')
  // Nothing typed: the browser-side check names the field, nothing is sent.
  const posts = () => erin.requests.filter((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/agents').length
  await page.keyboard.press('Enter')
  t.equal(await dialog.locator('#agent-name-error').textContent(), 'Give the agent a name.')
  t.equal(await dialog.locator('#agent-name').getAttribute('aria-invalid'), 'true')
  t.match(await dialog.locator('#agent-name').getAttribute('aria-describedby'), /agent-name-error/)
  t.equal(posts(), 0, 'nothing was sent')

  await dialog.getByLabel('Name', { exact: true }).fill('Scribe')
  await dialog.getByLabel('Instructions').fill('Answer briefly.')
  t.same(await dialog.getByLabel('Provider').locator('option').allTextContents(), ['local (default)'], 'providers come from /api/agents/providers')
  t.equal(await dialog.getByLabel('Model').inputValue(), 'echo')
  await dialog.getByLabel('Temperature').fill('0.5')
  await dialog.getByRole('checkbox', { name: 'chat.history' }).check()
  const data = dialog.getByRole('checkbox', { name: 'May receive conversation and file data' })
  t.ok(await data.isDisabled(), 'the data permission waits until the egress tool is chosen')
  await dialog.getByRole('checkbox', { name: 'web.fetch' }).check()
  t.notOk(await data.isDisabled())
  await data.check()
  t.match(await dialog.textContent(), /once the agent has read messages or files in a run, this tool is blocked/, 'the permission is explained in plain words')

  // What only the server knows lands next to its field: a schema error by its `errors` path...
  await page.route('**/api/agents', (route) =>
    route.request().method() === 'POST'
      ? route.continue({ postData: JSON.stringify({ ...JSON.parse(route.request().postData()!), temperature: 5 }) })
      : route.continue()
  )
  await dialog.getByRole('button', { name: 'Create agent' }).click()
  await dialog.locator('#agent-temperature-error', { hasText: /2/ }).waitFor()
  t.equal(await dialog.locator('#agent-temperature').getAttribute('aria-invalid'), 'true', 'the temperature is marked invalid')
  t.equal(await page.evaluate(() => document.activeElement?.id), 'agent-temperature', 'and focused')
  await page.unroute('**/api/agents')
  // ...and the service's own check by the field its detail names.
  await page.route('**/api/agents', (route) =>
    route.request().method() === 'POST'
      ? route.continue({ postData: JSON.stringify({ ...JSON.parse(route.request().postData()!), dataEgress: ['chat.history'] }) })
      : route.continue()
  )
  await dialog.getByRole('button', { name: 'Create agent' }).click()
  await dialog.locator('#agent-tools-error', { hasText: 'dataEgress: chat.history is not a tool that sends data off the platform' }).waitFor()
  t.equal(await dialog.locator('#agent-temperature-error').textContent(), '', 'the earlier error is gone')
  await page.unroute('**/api/agents')
  t.same(await myAgents(), [], 'no refused attempt created an agent')

  await dialog.getByRole('button', { name: 'Create agent' }).click()
  await dialog.waitFor({ state: 'detached' })
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'New agent', 'focus goes back to the button that opened it')
  const [a] = await myAgents()
  t.match(a, { name: 'Scribe', instructions: 'Answer briefly.', provider: 'local', model: 'echo', temperature: 0.5, dataEgress: ['web.fetch'] })
  t.same([...a!.tools].sort(), ['chat.history', 'web.fetch'])
  await page.waitForFunction((id) => (document.querySelector('#agent-select') as HTMLSelectElement).value === id, a!.id)
  t.pass('the new agent is selected in the agent bar')
})

await t.test('edit it: the form shows what is saved; Escape leaves it unchanged', async (t) => {
  await page.getByRole('button', { name: 'Edit agent' }).click()
  const dialog = page.getByRole('dialog', { name: 'Edit agent Scribe' })
  await dialog.waitFor()
  t.equal(await dialog.getByLabel('Name', { exact: true }).inputValue(), 'Scribe')
  t.equal(await dialog.getByLabel('Temperature').inputValue(), '0.5')
  t.ok(await dialog.getByRole('checkbox', { name: 'May receive conversation and file data' }).isChecked())
  await dialog.getByLabel('Name', { exact: true }).fill('Not saved')
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'detached' })
  t.equal((await myAgents())[0]!.name, 'Scribe', 'Escape saved nothing')

  await page.getByRole('button', { name: 'Edit agent' }).click()
  await dialog.waitFor()
  await dialog.getByLabel('Name', { exact: true }).fill('Scribe Two')
  await dialog.getByLabel('Temperature').fill('')
  await dialog.getByRole('checkbox', { name: 'web.fetch' }).uncheck()
  t.notOk(await dialog.getByRole('checkbox', { name: 'May receive conversation and file data' }).isChecked(), 'dropping the tool drops its data permission')
  await dialog.getByRole('button', { name: 'Save agent' }).click()
  await dialog.waitFor({ state: 'detached' })
  t.match((await myAgents())[0], { name: 'Scribe Two', temperature: null, tools: ['chat.history'], dataEgress: [] })
  await page.locator('#agent-select option', { hasText: 'Scribe Two' }).waitFor({ state: 'attached' })
})

await t.test("the reply carries the agent's name; copy and regenerate", async (t) => {
  await page.getByLabel('Message', { exact: true }).fill('hello there')
  await page.getByRole('button', { name: 'Run agent on message box' }).click()
  const reply = page.locator('#messages .msg.agent:not(.streaming)', { hasText: 'You said: hello there' })
  await reply.first().waitFor({ timeout: 60_000 })
  await page.locator('#messages .msg.agent[data-id] .who', { hasText: 'Scribe Two' }).waitFor()
  t.pass("the posted reply is labelled with the agent's name")
  await finn.page.locator('#messages .msg.agent[data-id] .who', { hasText: 'Scribe Two' }).waitFor({ timeout: 60_000 })
  t.pass("a member who does not own the agent sees its name too (the run's events carry it)")

  // Like a message's own actions, they show on hover or when the message has focus.
  await page.locator('#messages .msg.agent[data-id]').hover()
  await page.getByRole('button', { name: "Copy Scribe Two's reply" }).first().click()
  t.equal(await page.evaluate(() => navigator.clipboard.readText()), 'You said: hello there', 'copy puts the reply on the clipboard')

  await page.locator('#messages .msg.agent[data-id]').hover()
  await page.getByRole('button', { name: "Regenerate Scribe Two's reply" }).first().click()
  await page.waitForFunction(() => document.querySelectorAll('#messages .msg.agent[data-id]').length === 2, undefined, { timeout: 60_000 })
  t.equal(await page.locator('#messages .msg.agent[data-id]', { hasText: 'You said: hello there' }).count(), 2, 'a second reply to the same prompt')
  const runs = (await (await page.request.get(`/api/agents/${(await myAgents())[0]!.id}/runs`)).json()) as { runs: { input: string }[] }
  t.same(
    runs.runs.map((r) => r.input),
    ['hello there', 'hello there'],
    'regenerate ran the same prompt again'
  )
})

await t.test('a cancelled run keeps its partial text, marked cancelled', async (t) => {
  await page.getByLabel('Message', { exact: true }).fill('@slow 400\n@long 500')
  await page.getByRole('button', { name: 'Run agent on message box' }).click()
  const running = page.locator('#messages .msg.agent.streaming')
  await running.locator('.text', { hasText: 't2' }).waitFor({ timeout: 60_000 })
  await page.getByRole('button', { name: 'Cancel run' }).click()
  const cancelled = page.locator('#messages .msg.agent.cancelled')
  await cancelled.waitFor({ timeout: 30_000 })
  t.equal(await cancelled.locator('.run-state').textContent(), ' (cancelled)')
  t.equal(await cancelled.locator('.who').textContent(), 'Scribe Two')
  const partial = (await cancelled.locator('.text').textContent()) ?? ''
  t.match(partial, /^t1 t2/, 'the partial text stays')
  t.notMatch(partial, /t500/, 'and it is partial')
  await cancelled.hover()
  await cancelled.getByRole('button', { name: "Copy Scribe Two's reply" }).click()
  // The copy is the reply's Markdown source; the rendered text drops its trailing space.
  t.equal((await page.evaluate(() => navigator.clipboard.readText())).trimEnd(), partial)
  t.equal(await cancelled.getByRole('button', { name: "Regenerate Scribe Two's reply" }).count(), 1, 'and can be regenerated')
})

await t.test('after a reload: labels, Regenerate and the cancelled run are still there', async (t) => {
  await page.reload()
  await page.locator('#conn[data-state=online]').waitFor()
  const replies = page.locator('#messages .msg.agent[data-id]')
  await replies.nth(1).waitFor({ timeout: 60_000 })
  await page.locator('#messages .msg.agent[data-id] .who', { hasText: 'Scribe Two' }).nth(1).waitFor()
  t.same(await replies.locator('.who').allTextContents(), ['Scribe Two', 'Scribe Two'], 'both replies keep the agent’s name')
  await replies.first().hover()
  t.equal(await replies.first().getByRole('button', { name: "Regenerate Scribe Two's reply" }).count(), 1, 'and Regenerate')
  const cancelled = page.locator('#messages .msg.agent.cancelled')
  await cancelled.waitFor()
  t.equal(await cancelled.locator('.run-state').textContent(), ' (cancelled)')
  t.match(await cancelled.locator('.text').textContent(), /^t1 t2/, 'with its partial text')
  await cancelled.hover()
  t.equal(await cancelled.getByRole('button', { name: "Copy Scribe Two's reply" }).count(), 1)

  await finn.page.reload()
  await finn.page.locator('#messages .msg.agent[data-id] .who', { hasText: 'Scribe Two' }).nth(1).waitFor({ timeout: 60_000 })
  t.pass('another member sees the name after a reload too')
  await finn.page.locator('#messages .msg.agent[data-id]').first().hover()
  t.equal(await finn.page.getByRole('button', { name: "Regenerate Scribe Two's reply" }).count(), 0, 'but no Regenerate: the prompt was not theirs')
  t.equal(await finn.page.locator('#messages .msg.agent.cancelled').count(), 0, 'nor someone else’s cancelled text')
})

await t.test('@AgentName at the start of a message sends it and runs that agent on the rest', async (t) => {
  await page.getByLabel('Message', { exact: true }).fill('@scribe two summarise this')
  await page.keyboard.press('Enter')
  await page.locator('#messages .msg.mine:not(.pending) .text', { hasText: '@scribe two summarise this' }).waitFor({ timeout: 60_000 })
  t.pass('the prompt is a normal message of the user')
  const reply = page.locator('#messages .msg.agent[data-id]', { hasText: 'You said: summarise this' })
  await reply.waitFor({ timeout: 60_000 })
  t.equal(await reply.locator('.who').textContent(), 'Scribe Two', 'the named agent answered, on the rest of the message')
  await finn.page.getByLabel('Message', { exact: true }).fill('@Scribe Two not yours')
  await finn.page.keyboard.press('Enter')
  await page.locator('#messages .msg .text', { hasText: '@Scribe Two not yours' }).waitFor({ timeout: 60_000 })
  const runs = (await (await page.request.get(`/api/agents/${(await myAgents())[0]!.id}/runs`)).json()) as { runs: { input: string }[] }
  t.notOk(
    runs.runs.some((r) => r.input.includes('not yours')),
    "another member's mention does not run an agent that is not theirs"
  )
})

await t.test('shared with the conversation: another member runs it, cannot edit it', async (t) => {
  await page.getByRole('button', { name: 'Edit agent' }).click()
  const dialog = page.getByRole('dialog', { name: 'Edit agent Scribe Two' })
  await dialog.waitFor()
  const sharing = dialog.getByLabel('Who may run it')
  t.equal(await sharing.inputValue(), '', 'private at first')
  await sharing.selectOption({ label: `Members of “Agents ${stamp}”` })
  await dialog.getByRole('button', { name: 'Save agent' }).click()
  await dialog.waitFor({ state: 'detached' })
  t.equal((await myAgents())[0]!.sharedConversationId, conversationId)

  await finn.page.reload()
  await finn.page.locator('#agent-select option', { hasText: 'Scribe Two (shared)' }).waitFor({ state: 'attached' })
  await finn.page.locator('#agent-select').selectOption({ label: 'Scribe Two (shared)' })
  t.ok(await finn.page.getByRole('button', { name: 'Edit agent' }).isHidden(), 'no Edit for an agent someone else owns')
  await finn.page.getByLabel('Message', { exact: true }).fill('from finn')
  await finn.page.getByRole('button', { name: 'Run agent on message box' }).click()
  const reply = page.locator('#messages .msg.agent[data-id]', { hasText: 'You said: from finn' })
  await reply.waitFor({ timeout: 60_000 })
  t.equal(await reply.locator('.who').textContent(), 'Scribe Two', 'the owner sees the shared agent’s reply by name')
  await finn.page.locator('#messages .msg.agent[data-id]', { hasText: 'You said: from finn' }).hover()
  t.equal(await finn.page.getByRole('button', { name: "Regenerate Scribe Two's reply" }).count(), 1, 'the member who ran it may regenerate it')
  // The API refuses an edit by a member who is not the owner (the UI offers none).
  const agentId = (await myAgents())[0]!.id
  const edit = await finn.page.request.patch(`/api/agents/${agentId}`, { data: { instructions: 'leak' }, headers: { origin } })
  t.equal(edit.status(), 404)
})

t.test('no console errors', async (t) => {
  t.same(watch.errors, [])
})
