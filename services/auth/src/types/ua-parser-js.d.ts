// ua-parser-js 1.x (MIT) ships no types; this is the part lib/device-name.ts uses.
declare module 'ua-parser-js' {
  interface Named {
    name?: string
    version?: string
  }
  interface Result {
    browser: Named & { major?: string }
    os: Named
    device: { vendor?: string; model?: string; type?: string }
  }
  class UAParser {
    constructor(ua?: string)
    getResult(): Result
  }
  export default UAParser
}
