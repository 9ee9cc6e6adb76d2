import t from 'tap'

/**
 * The search bench at the quick size (day-seed's QUICK_DAY, a few requests per query), so the
 * seed, the searchers' take-over and every query of the bench keep working. It checks that the
 * bench runs and every answer is a 200, never a timing.
 */
t.test('pnpm bench search runs at the quick size', async (t) => {
  process.env.BENCH_DAY_SIZE = 'quick'
  process.env.BENCH_SEARCH_REQUESTS = '4'
  const { searchBench } = await import('../src/bench/search.js')
  const instance = await searchBench.setup()
  t.teardown(() => instance.teardown())
  const rows = await instance.measure!({ connections: 1, durationSeconds: 1, warmupSeconds: 0, rounds: 1 })
  t.equal(rows.length, 8, 'one row per query')
  for (const row of rows) {
    t.equal(row.errors, 0, `${row.name}: every answer a 200`)
    t.ok(row.p99 > 0, `${row.name}: measured`)
  }
})
