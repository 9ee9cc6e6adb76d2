// Mode 1 of the network-isolation suite end to end: as root with `ip`, build the namespaces, start
// the stack inside them and run every probe (all must pass); then, on the same stack, the edge
// restarted as a deliberately broken deployment (a service port published on the public side,
// identity-header stripping off), which must fail exactly the probes that guard against it; and an
// interrupted run must leave no namespace behind. Elsewhere the test is skipped with the reason.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../src/lib/paths.js'
import { listNamespaces, netnsUnavailable } from '../src/isolation/netns.js'

t.setTimeout(400_000)
const why = netnsUnavailable()

interface Run {
  code: number | null
  out: string
  err: string
  pid: number
}

function runSuite(args: string[], opts: { interruptOn?: RegExp } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=development', '--import=tsx', join(REPO_ROOT, 'scripts', 'src', 'isolation', 'runner.ts'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
      if (opts.interruptOn?.test(err)) {
        opts.interruptOn = undefined
        child.kill('SIGTERM')
      }
    })
    child.once('exit', (code) => resolve({ code, out, err, pid: child.pid! }))
  })
}

/** Failures per probe from the JUnit file. */
function failuresByProbe(xml: string): Record<number, number> {
  const out: Record<number, number> = {}
  for (const m of xml.matchAll(/<testsuite name="probe (\d+):[^"]*" tests="\d+" failures="(\d+)"/g)) out[Number(m[1])] = Number(m[2])
  return out
}

const ours = (pid: number) => listNamespaces().filter((n) => n.startsWith(`pal-${pid}-`))

t.test('Mode 1: network namespaces', { skip: why ? `Mode 1 skipped: ${why}` : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iso-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  // One stack: the probes as designed, then the edge restarted with a service port published on
  // the public side and identity-header stripping turned off (runner --self-test).
  const run = await runSuite(['--self-test', '--junit', join(dir, 'good.xml'), '--broken-junit', join(dir, 'bad.xml')])
  if (!t.equal(run.code, 0, 'every probe passes as designed, and the broken edge is caught')) {
    t.comment(run.out.slice(-8000))
    t.comment(run.err.slice(-3000))
  }
  t.match(run.out, /7\/7 probes passed/)
  t.same(failuresByProbe(readFileSync(join(dir, 'good.xml'), 'utf8')), { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0 }, 'JUnit: seven probe suites, no failure')
  const f = failuresByProbe(readFileSync(join(dir, 'bad.xml'), 'utf8'))
  t.ok(f[1]! > 0, 'broken: probe 1 notices the published service port')
  t.match(run.out, /chat port on the edge host .*\| open .*\| FAIL/)
  t.ok(f[2]! > 0, 'broken: probe 2 notices the client identity reaching a service')
  t.match(run.out, /THE FORGED USER/)
  t.same([f[3], f[4], f[5], f[6], f[7]], [0, 0, 0, 0, 0], 'broken: the other probes still pass')
  t.match(run.out, /5\/7 probes passed; FAILED: 1, 2\n/, 'broken: exactly probes 1 and 2 fail')
  t.same(ours(run.pid), [], 'its namespaces are gone')
  t.comment(run.out.match(/run time .*/)?.[0] ?? '')

  const interrupted = await runSuite([], { interruptOn: /topology / })
  t.equal(interrupted.code, 130, 'SIGTERM stops the run')
  t.match(interrupted.err, /SIGTERM: removing namespaces and processes/)
  t.same(ours(interrupted.pid), [], 'an interrupted run leaves no namespace behind')
})

t.test('stale namespaces of a killed run are swept by the next one', { skip: why ? `Mode 1 skipped: ${why}` : false }, async (t) => {
  const { sweepStale, destroyNamespace } = await import('../src/isolation/netns.js')
  const { spawnSync } = await import('node:child_process')
  // a process id that is not running: the highest possible one is never a live process here
  const stale = `pal-4194303-dead00-int`
  t.equal(spawnSync('ip', ['netns', 'add', stale]).status, 0)
  t.teardown(() => destroyNamespace(stale))
  t.ok(sweepStale().includes(stale), 'swept')
  t.notOk(listNamespaces().includes(stale))
})
