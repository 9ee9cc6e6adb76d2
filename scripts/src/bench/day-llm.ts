/**
 * The LLM behind the day scenario's agent runs: the token stand-in (token-server.ts) in the bench's
 * own process, given to the agents service as provider `bench` through the launcher's environment
 * pass-through. Each answer is 30 tokens, one every 20 ms (~0.6 s, the pace of a small hosted
 * model), so the time to a run's completed event is that floor plus the platform's own work.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTokenServer } from './token-server.js'

export const DAY_LLM = { provider: 'bench', model: 'bench', tokens: 30, intervalMs: 20 }

export interface DayLlm {
  /** environment for the stack (AGENTS_PROVIDERS) */
  env: Record<string, string>
  /** completions answered so far */
  requests(): number
  close(): Promise<void>
}

export async function startDayLlm(): Promise<DayLlm> {
  // no per-token bookkeeping: the day scenario times whole runs on the sockets
  const server = await startTokenServer(
    () => DAY_LLM.intervalMs,
    () => DAY_LLM.tokens,
    { record: false }
  )
  const dir = mkdtempSync(join(tmpdir(), 'palisade-day-llm-'))
  const keyFile = join(dir, 'key')
  writeFileSync(keyFile, 'sk-day-bench-not-a-real-key\n')
  return {
    env: {
      AGENTS_PROVIDERS: JSON.stringify([{ id: DAY_LLM.provider, kind: 'openai-compatible', baseUrl: server.url, apiKeyFile: keyFile, models: [DAY_LLM.model] }])
    },
    requests: server.requests,
    async close() {
      server.server.closeAllConnections()
      await new Promise<void>((r) => server.server.close(() => r()))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
