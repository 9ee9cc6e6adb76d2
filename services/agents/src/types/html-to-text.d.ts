// html-to-text 10 ships no type declarations; this is the one function the agents service uses.
declare module 'html-to-text' {
  export interface HtmlToTextOptions {
    wordwrap?: number | false | null
    selectors?: { selector: string; format?: string; options?: Record<string, unknown> }[]
    limits?: { maxInputLength?: number; maxDepth?: number; maxChildNodes?: number; ellipsis?: string }
  }
  export function convert(html: string, options?: HtmlToTextOptions): string
}
