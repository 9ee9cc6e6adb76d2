import UAParser from 'ua-parser-js'

/**
 * A readable name for the device behind a User-Agent ("Chrome 131 on Linux", "Safari on iPhone"),
 * for the sessions lists. Parsed when listed, from the stored header: the parser's updates then
 * reach old sessions too. Falls back to a short form of the raw header for API clients.
 */
export function deviceName(userAgent: string): string {
  if (!userAgent) return 'Unknown device'
  const { browser, os, device } = new UAParser(userAgent).getResult()
  const app = browser.name ? `${browser.name}${browser.major ? ` ${browser.major}` : ''}` : undefined
  const where = device.model && device.type ? device.model : os.name ? `${os.name}${os.version ? ` ${os.version}` : ''}` : undefined
  if (app && where) return `${app} on ${where}`
  return app ?? where ?? userAgent.slice(0, 60)
}
