import t from 'tap'
import { toServerQuery, type SearchLookups } from '../client/src/search-filters.js'

/** The search box turns titles and names into the ids chat's filters take. */

const TEAM = '11111111-1111-4111-8111-111111111111'
const BOB = '22222222-2222-4222-8222-222222222222'
const lookups: SearchLookups = {
  conversationsTitled: (title) => ({ team: [TEAM], 'release plans': ['33333333-3333-4333-8333-333333333333'], twice: [TEAM, BOB] })[title.toLowerCase()] ?? [],
  peopleNamed: (name) => ({ bob: [BOB], 'bob builder': [BOB] })[name.toLowerCase()] ?? []
}

t.test('titles and names become ids; the rest passes unchanged', async (t) => {
  t.same(toServerQuery('budget in:Team from:bob', lookups), { q: `budget in:${TEAM} from:${BOB}` })
  t.same(toServerQuery('in:"Release plans" has:file', lookups), { q: 'in:33333333-3333-4333-8333-333333333333 has:file' })
  t.same(toServerQuery('from:"Bob Builder" after:2026-01-01', lookups), { q: `from:${BOB} after:2026-01-01` })
  t.same(toServerQuery(`x IN:${TEAM} from:me before:2026-02-01`, lookups), { q: `x in:${TEAM} from:me before:2026-02-01` })
  t.same(toServerQuery('what: is it', lookups), { q: 'what: is it' }, 'other colons are text')
})

t.test('unknown or ambiguous names say so instead of searching', async (t) => {
  t.match(toServerQuery('in:nowhere', lookups), { error: /No conversation titled “nowhere”/ })
  t.match(toServerQuery('from:carol', lookups), { error: /No person named “carol”/ })
  t.match(toServerQuery('in:twice', lookups), { error: /More than one conversation/ })
})
