import fp from 'fastify-plugin'
import type { ChatStore } from '../store/context.js'
import { sweepPresence } from '../store/presence.js'

/** How often time-driven presence changes (away, crashed gateway instances) are looked for. */
const SWEEP_MS = 15_000

/**
 * Runs the presence sweep on every chat instance; the sweep's single UPDATE makes each change
 * happen (and be announced) once however many instances sweep.
 */
export const presenceSweeperPlugin = fp<{ store: ChatStore }>(
  async (app, { store }) => {
    let running: Promise<unknown> | undefined
    const timer = setInterval(() => {
      if (running) return
      running = sweepPresence(store)
        .catch((err: unknown) => app.log.warn({ err }, 'presence sweep failed'))
        .finally(() => {
          running = undefined
        })
    }, SWEEP_MS)
    timer.unref()
    app.addHook('preClose', async () => {
      clearInterval(timer)
      await running
    })
  },
  { name: 'chat-presence-sweeper' }
)
