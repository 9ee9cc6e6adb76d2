import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from '../src/lib/paths.js'
import { renderConfigTable } from '../src/config/table.js'

t.test("README's configuration table is exactly what the services' ConfigSchemas say", async (t) => {
  const table = await renderConfigTable()
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
  t.ok(table.split('\n').length > 40, 'every variable of every service')
  t.notMatch(table, /\|\s+\|\n/, 'every variable has a meaning (a doc comment beside it)')
  t.ok(readme.includes(table), 'README.md holds the current `pnpm config:table` output (run it and paste the table over the old one)')
})
