import t from 'tap'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { REPO_ROOT } from '../src/lib/paths.js'

// `pnpm deps:check` on a small tree shaped like the repository: the rules of
// .dependency-cruiser.cjs must refuse what a newcomer might write.
function cruise(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-deps-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  copyFileSync(join(REPO_ROOT, 'tsconfig.base.json'), join(dir, 'tsconfig.base.json'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  const r = spawnSync(
    join(REPO_ROOT, 'node_modules', '.bin', 'depcruise'),
    ['--config', join(REPO_ROOT, '.dependency-cruiser.cjs'), '--output-type', 'err', 'libs', 'services', 'scripts'],
    {
      cwd: dir,
      encoding: 'utf8'
    }
  )
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

const base = {
  'libs/contracts/src/index.ts': 'export const A = 1\n',
  'libs/platform/src/index.ts': "import { A } from '../../contracts/src/index.js'\nexport const B = A\n",
  'services/chat/src/app.ts': "import { B } from '../../../libs/platform/src/index.js'\nexport default B\n",
  'services/files/src/app.ts': "import { B } from '../../../libs/platform/src/index.js'\nexport default B\n",
  'libs/testkit/src/index.ts': "import { B } from '../../platform/src/index.js'\nexport const C = B\n",
  'scripts/src/start.ts': "import { A } from '../../libs/contracts/src/index.js'\nexport const D = A\n"
}

t.test('a tree that keeps the rules passes', async (t) => {
  const r = cruise(base)
  t.equal(r.status, 0, r.output)
})

t.test("a service's test importing another service fails the check, naming the rule", async (t) => {
  const r = cruise({ ...base, 'services/chat/test/attach.test.ts': "import filesApp from '../../files/src/app.js'\nexport default filesApp\n" })
  t.not(r.status, 0, 'non-zero exit')
  t.match(r.output, /service-imports-no-other-service: services\/chat\/test\/attach\.test\.ts → services\/files\/src\/app\.ts/)
})

t.test('a service source, testkit, scripts or platform reaching too far each fail, by rule', async (t) => {
  const r = cruise({
    ...base,
    'services/files/src/app.ts': "import chat from '../../chat/src/app.js'\nexport default chat\n",
    'libs/testkit/src/index.ts': "import auth from '../../../services/chat/src/app.js'\nexport const C = auth\n",
    'scripts/src/start.ts': "import chat from '../../services/chat/src/app.js'\nexport const D = chat\n",
    'libs/platform/src/index.ts': "import { C } from '../../testkit/src/index.js'\nexport const B = C\n"
  })
  t.not(r.status, 0)
  t.match(r.output, /service-imports-no-other-service: services\/files\/src\/app\.ts/)
  t.match(r.output, /testkit-imports-no-service/)
  t.match(r.output, /scripts-import-no-service/)
  t.match(r.output, /platform-imports-contracts-only/)
})
