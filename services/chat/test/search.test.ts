import t from 'tap'
import { chatHarness } from './helpers.js'

t.test('search covers only my conversations', async (t) => {
  const h = await chatHarness(t)
  const [alice, bob, eve] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const shared = await h.createConversation(alice, 'Shared', [bob])
  const alone = await h.createConversation(alice, 'Alone')
  const evesOwn = await h.createConversation(eve, 'Eve')
  await h.send(alice, shared.id, 'The deployment of the rocket is scheduled')
  await h.send(bob, shared.id, 'Rockets deploy on Friday')
  await h.send(alice, alone.id, 'rocket notes to self')
  await h.send(eve, evesOwn.id, 'eve also talks about rockets')
  await h.send(bob, shared.id, 'lunch?')

  const search = async (user: typeof alice, qs: string) => {
    const res = await h.as(user, 'GET', `/api/chat/search?${qs}`)
    t.equal(res.statusCode, 200, res.body.slice(0, 200))
    return res.json() as { items: Array<{ text: string; conversationId: string }>; nextCursor: string | null }
  }

  let page = await search(alice, 'q=rocket')
  t.same(page.items.map((m) => m.text), ['rocket notes to self', 'Rockets deploy on Friday', 'The deployment of the rocket is scheduled'], 'stemmed matches, newest first')
  page = await search(bob, 'q=rocket')
  t.same(page.items.map((m) => m.text), ['Rockets deploy on Friday', 'The deployment of the rocket is scheduled'], "bob sees neither alice's private conversation nor eve's")
  page = await search(eve, 'q=deploy')
  t.same(page.items, [], 'eve finds nothing of theirs')
  page = await search(alice, `q=rocket&conversationId=${alone.id}`)
  t.same(page.items.map((m) => m.text), ['rocket notes to self'])
  page = await search(alice, `q=${encodeURIComponent('rocket -friday')}`)
  t.equal(page.items.length, 2, 'web search syntax (exclusion)')
  page = await search(alice, `q=${encodeURIComponent('"rocket is scheduled"')}`)
  t.equal(page.items.length, 1, 'phrases')
  page = await search(alice, 'q=the')
  t.same(page.items, [], 'stop words only: no match, no error')
  page = await search(alice, `q=${encodeURIComponent("'):*&|!<->(")}`)
  t.same(page.items, [], 'tsquery operators in the input are just text')

  const first = await search(alice, 'q=rocket&limit=2')
  t.equal(first.items.length, 2)
  t.type(first.nextCursor, 'string')
  const second = await search(alice, `q=rocket&limit=2&cursor=${first.nextCursor}`)
  t.same(second.items.map((m) => m.text), ['The deployment of the rocket is scheduled'])
  t.equal(second.nextCursor, null)

  let res = await h.as(eve, 'GET', `/api/chat/search?q=rocket&conversationId=${shared.id}`)
  t.equal(res.statusCode, 404, "filtering on someone else's conversation")
  res = await h.as(alice, 'GET', '/api/chat/search?q=')
  t.equal(res.statusCode, 400)
  res = await h.as(alice, 'GET', `/api/chat/search?q=${'x'.repeat(201)}`)
  t.equal(res.statusCode, 400)
})
