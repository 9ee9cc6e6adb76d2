import { connect, type Socket } from 'node:net'

export type ScanVerdict = { verdict: 'clean' } | { verdict: 'infected'; signature: string }

export class ClamdError extends Error {
  override name = 'ClamdError'
}

export type ClamdAddress = { host: string; port: number } | { path: string }

/** `tcp://host:port`, `host:port`, `unix:/path`, `unix:///path` or an absolute socket path. */
export function parseClamdAddress(address: string): ClamdAddress {
  if (address.startsWith('unix:')) {
    const path = address.replace(/^unix:(\/\/)?/, '')
    if (!path.startsWith('/')) throw new ClamdError('clamd unix socket path must be absolute')
    return { path }
  }
  if (address.startsWith('/')) return { path: address }
  const url = new URL(address.includes('://') ? address : `tcp://${address}`)
  if (url.protocol !== 'tcp:' || !url.hostname || !url.port) throw new ClamdError('clamd address must be tcp://host:port or unix:/path')
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) }
}

/** Largest chunk sent in one INSTREAM frame (clamd's StreamMaxLength bounds the total, not frames). */
const FRAME_BYTES = 64 * 1024
const MAX_REPLY_BYTES = 4096

/** Parses clamd's reply to INSTREAM: `stream: OK`, `stream: <signature> FOUND`, or `… ERROR`. */
export function parseClamdReply(reply: string): ScanVerdict {
  const text = reply.replace(/\0+$/, '').trim()
  if (/^stream: OK$/.test(text)) return { verdict: 'clean' }
  const found = /^stream: (.+) FOUND$/.exec(text)
  if (found) return { verdict: 'infected', signature: found[1]!.slice(0, 200) }
  throw new ClamdError(`clamd: ${text.slice(0, 200) || 'empty reply'}`)
}

/**
 * Scans bytes with clamd's INSTREAM command: `zINSTREAM\0`, then frames of a 4-byte big-endian
 * length followed by that many bytes, then a zero-length frame; clamd answers one NUL-terminated
 * line. clamd may answer (and close) early, e.g. when the stream passes its size limit: the reply
 * wins over any write error.
 */
export async function clamdInstream(address: ClamdAddress, source: AsyncIterable<Buffer>, timeoutMs: number): Promise<ScanVerdict> {
  const socket: Socket = 'path' in address ? connect(address.path) : connect(address.port, address.host)
  let reply = ''
  let settled = false
  const replyPromise = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => socket.destroy(new ClamdError(`clamd did not answer within ${timeoutMs} ms`)), timeoutMs)
    const finish = (err?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (reply.length > 0 && (!err || !(err instanceof ClamdError))) resolve(reply)
      else reject(err ?? new ClamdError('clamd closed the connection without a reply'))
    }
    socket.on('data', (d: Buffer) => {
      reply += d.toString('utf8')
      if (reply.includes('\0') || reply.length > MAX_REPLY_BYTES) finish()
    })
    socket.on('end', () => finish())
    socket.on('close', () => finish())
    socket.on('error', (err) => finish(err))
  })
  replyPromise.catch(() => {})

  const write = (buf: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      if (settled || socket.destroyed) return reject(new ClamdError('clamd connection closed'))
      socket.write(buf, (err) => (err ? reject(err) : resolve()))
    })

  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    await write(Buffer.from('zINSTREAM\0', 'latin1'))
    for await (const chunk of source) {
      for (let off = 0; off < chunk.length; off += FRAME_BYTES) {
        const piece = chunk.subarray(off, off + FRAME_BYTES)
        const header = Buffer.alloc(4)
        header.writeUInt32BE(piece.length)
        await write(Buffer.concat([header, piece]))
      }
    }
    await write(Buffer.alloc(4))
  } catch (err) {
    // An early reply (size limit, …) explains the failed write better than the write error does.
    if (!settled) socket.destroy(err as Error)
  }
  return parseClamdReply(await replyPromise)
}
