import t from 'tap'
import { clockTime, dayKey, dayLabel, fullTime } from '../client/src/times.js'

/** How the client labels days and times (day separators, older messages, hover and focus). */

t.test('day separators say Today, Yesterday, or the date of older messages', async (t) => {
  const now = new Date(2026, 11, 7, 9, 30)
  t.equal(dayLabel(new Date(2026, 11, 7, 0, 1).toISOString(), now), 'Today')
  t.equal(dayLabel(new Date(2026, 11, 6, 23, 59).toISOString(), now), 'Yesterday')
  const older = dayLabel(new Date(2026, 10, 30, 12, 0).toISOString(), now)
  t.match(older, /2026/, `an older day has its full date (${older})`)
  t.match(older, /30/)
  t.equal(dayLabel(new Date(2025, 11, 7, 12, 0).toISOString(), now).includes('2025'), true, 'a year ago is not "Today"')
})

t.test('day keys follow the local calendar day', async (t) => {
  t.equal(dayKey(new Date(2026, 0, 2, 0, 0, 1).toISOString()), '2026-01-02')
  t.equal(dayKey(new Date(2026, 0, 2, 23, 59, 59).toISOString()), '2026-01-02')
  t.not(dayKey(new Date(2026, 0, 2, 23, 59).toISOString()), dayKey(new Date(2026, 0, 3, 0, 0).toISOString()))
})

t.test('a message shows its clock time; hover and focus show the full date and time', async (t) => {
  const iso = new Date(2026, 11, 7, 14, 5, 9).toISOString()
  t.match(clockTime(iso), /05/)
  const full = fullTime(iso)
  t.match(full, /2026/)
  t.match(full, /05/)
  t.ok(full.length > clockTime(iso).length)
})
