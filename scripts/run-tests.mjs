#!/usr/bin/env node
// The one test command (`pnpm test`): type-check every package, check the import rules, then run
// every tap suite of the workspace in one tap process so CI gets a single summary line.
import { spawnSync } from 'node:child_process'

// Use the pnpm that runs us (npx pnpm@… works without a global pnpm on PATH).
const pnpm = process.env.npm_execpath && /pnpm/.test(process.env.npm_execpath) ? [process.execPath, process.env.npm_execpath] : ['pnpm']

function run(args) {
  const r = spawnSync(pnpm[0], [...pnpm.slice(1), ...args], { stdio: 'inherit', env: process.env })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

run(['run', 'lint']) // Biome: formatting and lint rules (biome.json)
run(['exec', 'tsc', '-b'])
run(['run', 'deps:check']) // the import rules of .dependency-cruiser.cjs
run(['--filter', '@palisade/web', 'build']) // the SPA the web service serves (services/web/dist/public)
run(['exec', 'tap', 'build'])
run(['exec', 'tap', ...process.argv.slice(2)])
