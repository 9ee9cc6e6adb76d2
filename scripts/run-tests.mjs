#!/usr/bin/env node
// The one test command (`pnpm test`): type-check every package, then run every tap suite of the
// workspace in one tap process so CI gets a single summary line.
import { spawnSync } from 'node:child_process'

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

run('pnpm', ['exec', 'tsc', '-b'])
run('pnpm', ['exec', 'tap', 'build'])
run('pnpm', ['exec', 'tap', ...process.argv.slice(2)])
