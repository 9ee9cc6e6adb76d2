// The probe runner, the same in both modes: Mode 1 runs it inside a network namespace
// (`ip netns exec <ns> node --import=tsx --conditions=development scripts/src/isolation/probe-cli.ts …`),
// Mode 2 inside the probe-client / probe-attacker containers (deploy/isolation/).
//
//   --as client|attacker     which probes: client 1–3 (public network), attacker 4–7 (internal network)
//   --targets <file|json>    a Targets object (types.ts)
//   --state-out <file>       attacker: write the victim identity for the client phase (probe 2)
//   --state-in <file>        client: read it
//   --results <file>         write the results as JSON (the Mode 1 runner merges both phases)
//   --junit <file>           write JUnit XML
//   --listen <host:port>     instead of probing: accept TCP connections forever (the egress target of probe 7)
//
// Prints a table per probe; exits 1 when any probe fails, 2 on bad arguments.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { parseArgs } from 'node:util'
import { runAttackerProbes, runClientProbes } from './probes.js'
import { renderJUnit, renderTable } from './report.js'
import type { ProbeResult, ProbeState, Targets } from './types.js'

const { values } = parseArgs({
  options: {
    as: { type: 'string' },
    targets: { type: 'string' },
    'state-out': { type: 'string' },
    'state-in': { type: 'string' },
    results: { type: 'string' },
    junit: { type: 'string' },
    listen: { type: 'string' },
    quiet: { type: 'boolean' }
  }
})

function fail(msg: string): never {
  process.stderr.write(`probe-cli: ${msg}\n`)
  process.exit(2)
}

if (values.listen) {
  const m = /^(.+):(\d+)$/.exec(values.listen)
  if (!m) fail('--listen wants host:port')
  const server = createServer((s) => s.end('palisade isolation egress target\n'))
  server.listen(Number(m[2]), m[1], () => process.stdout.write(`listening ${values.listen}\n`))
  process.on('SIGTERM', () => process.exit(0))
} else {
  const raw = values.targets ?? fail('--targets is required')
  const targets = JSON.parse(raw.trimStart().startsWith('{') ? raw : readFileSync(raw, 'utf8')) as Targets
  let results: ProbeResult[]
  if (values.as === 'client') {
    if (!targets.client) fail('the targets have no `client` section')
    const stateFile = values['state-in']
    const state = stateFile && existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as ProbeState) : undefined
    results = await runClientProbes(targets.client, state)
  } else if (values.as === 'attacker') {
    if (!targets.attacker) fail('the targets have no `attacker` section')
    const r = await runAttackerProbes(targets.attacker)
    results = r.results
    if (values['state-out'] && r.state) writeFileSync(values['state-out'], JSON.stringify(r.state), { mode: 0o600 })
  } else fail('--as client|attacker is required')
  if (values.results) writeFileSync(values.results, JSON.stringify(results))
  if (values.junit) writeFileSync(values.junit, renderJUnit(results))
  if (!values.quiet) process.stdout.write(renderTable(results))
  process.exit(results.every((r) => r.pass) ? 0 : 1)
}
