/** The options of `pnpm bench day` (day.ts) and how they are read from the command line. */
export interface DayOptions {
  quick: boolean
  steps: number[]
  /** measured seconds per step */
  seconds: number
  /** unmeasured seconds of the same load before each step (JIT, caches, pools) */
  warmup: number
  /** how many times faster than real time people act */
  compress: number
  /** client processes the people are spread over */
  clients: number
  /** simulated minutes between one person's uploads (0: none) */
  uploadEvery: number
  /** simulated minutes between runs of one person who uses an agent (0: none) */
  runEvery: number
  /** percent of the people who use an agent */
  agentPeople: number
  /** the stack's AUTH_ACCESS_TTL_SECONDS (60–900; unset: auth's default, 15 minutes) */
  accessTtl?: number
  log?: (line: string) => void
}

/** default rates of the rarer actions: an upload a person every 30 minutes, a run an hour for one in ten */
const RATES = { uploadEvery: 30, runEvery: 60, agentPeople: 10 }
const USAGE =
  'pnpm bench day [--quick] [--steps=250,500] [--seconds=45] [--warmup=10] [--compress=10] [--clients=4] [--upload-every=30] [--run-every=60] [--agent-people=10] [--access-ttl=900]'

export function parseDayArgs(argv: string[]): DayOptions {
  const o: DayOptions = { quick: false, steps: [250, 500, 1000, 2000, 4000, 8000], seconds: 45, warmup: 10, compress: 10, clients: 4, ...RATES }
  const names = { 'upload-every': 'uploadEvery', 'run-every': 'runEvery', 'agent-people': 'agentPeople', 'access-ttl': 'accessTtl' } as const
  for (const a of argv) {
    const m = /^--(steps|seconds|warmup|compress|clients|upload-every|run-every|agent-people|access-ttl)=([\d,.]+)$/.exec(a)
    if (a === '--quick') o.quick = true
    else if (m?.[1] === 'steps')
      o.steps = m[2]!
        .split(',')
        .map(Number)
        .filter((n) => n > 0)
    else if (m) o[names[m[1] as keyof typeof names] ?? (m[1] as 'seconds' | 'warmup' | 'compress' | 'clients')] = Number(m[2])
    else throw new Error(`unknown option ${a} (usage: ${USAGE})`)
  }
  if (o.quick && !argv.some((a) => a.startsWith('--steps='))) o.steps = [30]
  if (o.quick && !argv.some((a) => a.startsWith('--seconds='))) o.seconds = 10
  if (o.quick && !argv.some((a) => a.startsWith('--warmup='))) o.warmup = 4
  if (o.quick && !argv.some((a) => a.startsWith('--compress='))) o.compress = 20
  return o
}
