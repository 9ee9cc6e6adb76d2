import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import { convert as htmlToText } from 'html-to-text'
import { Agent, request } from 'undici'
import type { AddressPolicy } from './address-policy.js'

/** The hard caps; operations may only lower them. */
export const WEB_FETCH_MAX_BYTES = 5 * 1024 * 1024
export const WEB_FETCH_MAX_TIMEOUT_MS = 10_000
export const WEB_FETCH_MAX_REDIRECTS = 3

/** A fetch the service will not make, or that failed; the message is safe to show the model. */
export class WebFetchError extends Error {
  override name = 'WebFetchError'
}

export type Resolver = (hostname: string) => Promise<LookupAddress[]>

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))))

export interface WebFetchOptions {
  policy: AddressPolicy
  maxBytes: number
  timeoutMs: number
  /** name resolution (the system resolver; tests hand in one that changes its answers) */
  resolve?: Resolver
}

export interface FetchedPage {
  url: string
  finalUrl: string
  status: number
  contentType: string
  truncated: boolean
  text: string
  /** every request made, redirects included, for the run's audit trail */
  requests: { url: string; status: number }[]
}

const TEXT_TYPES = /^(text\/[a-z0-9.+-]+|application\/(?:[a-z0-9.-]+\+)?json|application\/xhtml\+xml)$/

class RefusedAddress extends Error {
  code = 'EPALISADEREFUSED'
}

/**
 * `web.fetch` underneath: the service resolves names itself and connects to exactly the address it
 * checked (undici's connector calls our `lookup`; there is no second resolution for a rebinding DNS
 * server to answer differently). IP literals never reach a lookup, so they are checked up front.
 * Redirects are followed by hand, at most three, each one checked like the first URL.
 */
export class WebFetcher {
  private readonly agent: Agent
  private readonly resolve: Resolver

  constructor(private readonly opts: WebFetchOptions) {
    this.resolve = opts.resolve ?? systemResolver
    this.agent = new Agent({
      connect: {
        // net/tls call this with `all: true` when they race address families.
        lookup: ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
          this.resolve(hostname).then(
            (addresses) => {
              const ok = addresses.length > 0 && addresses.every((a) => opts.policy.addressAllowed(a.address))
              if (!ok) return callback(new RefusedAddress(`${hostname} resolves to an address that is not allowed`))
              if (options.all) callback(null, addresses)
              else callback(null, addresses[0]!.address, addresses[0]!.family)
            },
            (err: unknown) => callback(err)
          )
        }) as unknown as LookupFunction
      },
      connections: 16,
      pipelining: 0
    })
  }

  async close(): Promise<void> {
    await this.agent.close()
  }

  /** Checks a URL before any connection: scheme, no credentials, host allow list, IP literals. */
  private check(raw: string): URL {
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new WebFetchError('not a valid URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebFetchError('only http and https URLs can be fetched')
    if (url.username || url.password) throw new WebFetchError('URLs with credentials are not fetched')
    if (!this.opts.policy.hostAllowed(url)) throw new WebFetchError(`host ${url.host} is not on the allow list operations configured`)
    const literal = url.hostname.replace(/^\[|\]$/g, '')
    if (isIP(literal) !== 0 && !this.opts.policy.addressAllowed(literal)) throw new WebFetchError(`address ${literal} is not allowed`)
    url.hash = ''
    return url
  }

  async fetch(raw: string, signal: AbortSignal): Promise<FetchedPage> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(this.opts.timeoutMs)])
    const requests: FetchedPage['requests'] = []
    let url = this.check(raw)
    for (let redirects = 0; ; redirects++) {
      let res: Awaited<ReturnType<typeof request>>
      try {
        res = await request(url, {
          dispatcher: this.agent,
          method: 'GET',
          headers: { accept: 'text/html, text/plain, application/json;q=0.9, text/*;q=0.8', 'accept-encoding': 'identity', 'user-agent': 'palisade-agents' },
          signal: deadline
        })
      } catch (err) {
        if (signal.aborted) throw signal.reason
        if (deadline.aborted) throw new WebFetchError(`no complete answer within ${this.opts.timeoutMs} ms`)
        if (err instanceof RefusedAddress || (err as { cause?: unknown }).cause instanceof RefusedAddress) {
          throw new WebFetchError(`${url.hostname} resolves to an address that is not allowed`)
        }
        throw new WebFetchError(`could not connect to ${url.host}`)
      }
      requests.push({ url: url.toString(), status: res.statusCode })
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
        await res.body.dump().catch(() => {})
        if (redirects >= WEB_FETCH_MAX_REDIRECTS) throw new WebFetchError(`more than ${WEB_FETCH_MAX_REDIRECTS} redirects`)
        const location = String(res.headers.location)
        url = this.check(new URL(location, url).toString())
        continue
      }
      const contentType = String(res.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase()
      if (!TEXT_TYPES.test(contentType)) {
        await res.body.dump().catch(() => {})
        throw new WebFetchError(`content type ${JSON.stringify(contentType.slice(0, 64) || 'none')} is not text, HTML or JSON`)
      }
      const { bytes, truncated } = await this.read(res.body, deadline, signal)
      const body = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
      const text =
        contentType === 'text/html' || contentType === 'application/xhtml+xml'
          ? htmlToText(body, { wordwrap: false, selectors: [{ selector: 'img', format: 'skip' }], limits: { maxInputLength: this.opts.maxBytes } })
          : body
      return { url: raw, finalUrl: url.toString(), status: res.statusCode, contentType, truncated, text, requests }
    }
  }

  private async read(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, deadline: AbortSignal, signal: AbortSignal) {
    const chunks: Buffer[] = []
    let size = 0
    // The request's signal stops waiting for headers; a body that drips forever needs this.
    const stop = () => body.destroy(new WebFetchError('deadline'))
    deadline.addEventListener('abort', stop, { once: true })
    try {
      for await (const chunk of body) {
        const room = this.opts.maxBytes - size
        if (chunk.length >= room) {
          chunks.push(chunk.subarray(0, room))
          size += room
          body.destroy()
          return { bytes: Buffer.concat(chunks), truncated: true }
        }
        chunks.push(chunk)
        size += chunk.length
      }
    } catch {
      if (signal.aborted) throw signal.reason
      if (deadline.aborted) throw new WebFetchError(`no complete answer within ${this.opts.timeoutMs} ms`)
      throw new WebFetchError('the connection broke off')
    } finally {
      deadline.removeEventListener('abort', stop)
    }
    return { bytes: Buffer.concat(chunks), truncated: false }
  }
}
