import { Writable } from 'node:stream'

/** A pino destination that keeps every line, to assert on what a service logged. */
export function captureLogs(): { stream: Writable; lines: string[]; text(): string } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean))
      cb()
    }
  })
  return { stream, lines, text: () => lines.join('\n') }
}
