import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'

export interface SupervisedOptions {
  name: string
  command: string
  args: string[]
  spawn: SpawnOptions
  /** called with every new child (pipe its output here) */
  onSpawn?: (child: ChildProcess) => void
  /** an unexpected exit; `restarting` says whether it is started again */
  onExit?: (info: { code: number | null; signal: NodeJS.Signals | null; restarting: boolean }) => void
  /** start again after an unexpected exit (instances mode); otherwise the exit is final */
  restart: boolean
}

const FIRST_DELAY_MS = 250
const MAX_DELAY_MS = 5000
/** a child that lived this long resets the back-off: it was not a crash loop */
const STABLE_MS = 10_000

/**
 * One process the launcher keeps: in instances mode it is started again after it dies (as an
 * orchestrator would restart a pod), with a doubling delay while it keeps dying young.
 */
export class Supervised {
  child!: ChildProcess
  restarts = 0
  private stopping = false
  private delay = FIRST_DELAY_MS
  private startedAt = Date.now()
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly opts: SupervisedOptions) {
    this.launch()
  }

  get pid(): number | undefined {
    return this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined
  }

  private launch(): void {
    this.startedAt = Date.now()
    const child = spawn(this.opts.command, this.opts.args, this.opts.spawn)
    this.child = child
    this.opts.onSpawn?.(child)
    child.once('exit', (code, signal) => {
      if (this.stopping) return
      const restarting = this.opts.restart
      this.opts.onExit?.({ code, signal, restarting })
      if (!restarting) return
      if (Date.now() - this.startedAt > STABLE_MS) this.delay = FIRST_DELAY_MS
      this.timer = setTimeout(() => {
        if (this.stopping) return
        this.restarts++
        this.launch()
      }, this.delay)
      this.delay = Math.min(MAX_DELAY_MS, this.delay * 2)
    })
  }

  /** SIGTERM, SIGKILL after `graceMs`; no restart afterwards. */
  stop(graceMs = 10_000): Promise<void> {
    this.stopping = true
    clearTimeout(this.timer)
    const child = this.child
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs)
      child.once('exit', () => {
        clearTimeout(kill)
        resolve()
      })
      child.kill('SIGTERM')
    })
  }
}
