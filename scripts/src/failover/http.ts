import http from 'node:http'

export interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/**
 * One request through the edge from `address` (a loopback address of the client's own: the edge
 * sees a different client per person). Rejects on network errors; every status resolves.
 */
export function request(
  base: string,
  method: string,
  path: string,
  opts: { address: string; cookie?: string; origin: string; json?: unknown; agent?: http.Agent; timeoutMs?: number }
): Promise<Answer> {
  const body = opts.json === undefined ? undefined : JSON.stringify(opts.json)
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        localAddress: opts.address,
        agent: opts.agent ?? false,
        timeout: opts.timeoutMs ?? 10_000,
        headers: {
          accept: 'application/json',
          origin: opts.origin,
          ...(opts.cookie ? { cookie: opts.cookie } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {})
        }
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
        res.once('error', reject)
      }
    )
    req.once('timeout', () => req.destroy(new Error('request timed out')))
    req.once('error', reject)
    req.end(body)
  })
}

/** The access cookie (`name=value`) among an answer's Set-Cookie headers. */
export function accessCookie(answer: Answer, name: string): string | undefined {
  const set = answer.headers['set-cookie'] ?? []
  return set.map((c) => c.split(';')[0]!).find((c) => c.startsWith(`${name}=`))
}
