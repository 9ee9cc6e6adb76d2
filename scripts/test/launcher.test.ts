import t from 'tap'
import { APP_SERVICES } from '@palisade/contracts'
import { STACK_SERVICES, DATA_SERVICES, isRunnable, ownsData } from '../src/stack/services.js'
import { which } from '../src/lib/which.js'
import { headerSpellings } from '../src/lib/header-spellings.js'
import { treeCpuMicros } from '../src/bench/edge.js'

t.test('the launcher knows every application service, each on its own port', async (t) => {
  t.same(STACK_SERVICES.map((s) => s.name).sort(), [...APP_SERVICES, 'web'].sort())
  const offsets = STACK_SERVICES.map((s) => s.portOffset)
  t.equal(new Set(offsets).size, offsets.length, 'fixed ports are distinct')
  t.ok(isRunnable('auth'), 'auth has an app')
  t.ok(isRunnable('web'), 'the static web app is started too')
  t.notOk(ownsData('web'), 'web owns no data')
  t.notOk(ownsData('gateway'), 'gateway owns no data')
  t.ok(DATA_SERVICES.includes('auth') && !DATA_SERVICES.includes('gateway'))
})

t.test('which() finds executables on PATH without a shell', async (t) => {
  t.match(which('node'), /\/node$/)
  t.equal(which('definitely-not-a-binary-palisade'), undefined)
  t.equal(which('node', '/nonexistent'), undefined)
})

t.test('header spellings cover every separator combination', async (t) => {
  const s = headerSpellings('x-authenticated-user')
  t.equal(s.length, 9)
  t.equal(s[0], 'X-Authenticated-User')
  t.ok(s.includes('X_Authenticated_User') && s.includes('X.Authenticated.User') && s.includes('X-Authenticated_User'))
  t.same(headerSpellings('forwarded'), ['Forwarded'])
})

t.test('process-tree CPU accounting reads /proc', async (t) => {
  const a = treeCpuMicros(process.pid)
  let x = 0
  for (let i = 0; i < 2e6; i++) x += i
  t.ok(x > 0)
  t.ok(treeCpuMicros(process.pid) >= a && a > 0)
})
