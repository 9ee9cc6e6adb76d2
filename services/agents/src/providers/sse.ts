/** Largest single SSE event accepted from a provider; a bigger one is a protocol error. */
export const MAX_SSE_EVENT_BYTES = 1024 * 1024

export class SseError extends Error {
  override name = 'SseError'
}

/**
 * Server-sent events → the `data` of each event (multi-line data joined by `\n`). Comments,
 * `event:`/`id:`/`retry:` fields and empty events are skipped; CRLF, CR and LF line ends accepted.
 */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncIterable<string> {
  const decoder = new TextDecoder()
  let buffer = ''
  let data: string[] = []
  let size = 0
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true })
    if (buffer.length > MAX_SSE_EVENT_BYTES) throw new SseError('server-sent event too large')
    for (let nl = buffer.search(/\r\n|\r|\n/); nl !== -1; nl = buffer.search(/\r\n|\r|\n/)) {
      // A lone CR at the very end may be the first half of CRLF: wait for more bytes.
      if (buffer[nl] === '\r' && nl === buffer.length - 1) break
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1))
      if (line === '') {
        if (data.length > 0) yield data.join('\n')
        data = []
        size = 0
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      if (field !== 'data') continue
      let value = colon === -1 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      size += value.length
      if (size > MAX_SSE_EVENT_BYTES) throw new SseError('server-sent event too large')
      data.push(value)
    }
  }
  buffer += decoder.decode()
  if (buffer.length > 0 && buffer.startsWith('data:')) {
    const value = buffer.slice(5)
    data.push(value.startsWith(' ') ? value.slice(1) : value)
  }
  if (data.length > 0) yield data.join('\n')
}
