/**
 * Hostile Markdown (issue 26 item 1): inputs that must render inert. Modelled on the ways Markdown
 * renderers have been broken (Open WebUI's `javascript:` links and HTML fallbacks among them):
 * dangerous schemes behind case, whitespace, entity, percent and control-character tricks, raw
 * HTML of every kind, bracket and reference games, bidi overrides, and sheer size and depth.
 */
const ZWSP = '\u200b'
const RLO = '\u202e'

const schemes: [string, string][] = [
  ['javascript link', '[click](javascript:alert(1))'],
  ['JavaScript mixed case', '[click](JaVaScRiPt:alert(1))'],
  ['javascript with leading space', '[click]( javascript:alert(1))'],
  ['javascript in angle brackets', '[click](<javascript:alert(1)>)'],
  ['javascript with a tab inside', '[click](java\tscript:alert(1))'],
  ['javascript with a newline inside', '[click](java\nscript:alert(1))'],
  ['javascript with an entity colon', '[click](javascript&colon;alert(1))'],
  ['javascript with a numeric entity', '[click](&#106;avascript:alert(1))'],
  ['javascript with a hex entity', '[click](&#x6A;&#x61;vascript:alert(1))'],
  ['javascript percent-encoded colon', '[click](javascript%3Aalert(1))'],
  ['javascript percent-encoded letters', '[click](%6Aavascript:alert(1))'],
  ['javascript with a zero-width space', `[click](java${ZWSP}script:alert(1))`],
  ['javascript with a backslash escape', '[click](javascript\\:alert(1))'],
  ['vbscript link', '[click](vbscript:msgbox(1))'],
  ['data: HTML link', '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)'],
  ['data: HTML link in caps', '[click](DATA:text/html,<script>alert(1)</script>)'],
  ['file: link', '[click](file:///etc/passwd)'],
  ['relative link into the app', '[click](/api/files/x/content)'],
  ['protocol-relative link', '[click](//evil.example/x)'],
  ['javascript autolink', '<javascript:alert(1)>'],
  ['vbscript autolink', '<vbscript:msgbox(1)>'],
  ['data autolink', '<data:text/html,<script>alert(1)</script>>'],
  ['javascript reference link', '[click][x]\n\n[x]: javascript:alert(1)'],
  ['javascript reference link with title', '[click][x]\n\n[x]: JAVASCRIPT:alert(1) "title"'],
  ['javascript collapsed reference', '[x][]\n\n[x]: javascript:alert(1)'],
  ['javascript shortcut reference', '[x]\n\n[x]: javascript:alert(1)'],
  ['link title breaking out', '[click](https://ok.example "a\\" onmouseover=\\"alert(1))'],
  ['nested brackets hiding a link', '[[click](javascript:alert(1))](https://ok.example)'],
  ['link in link text', '[a [b](https://inner.example) c](https://outer.example)'],
  ['unbalanced brackets', '[[[[[[[[[[x](javascript:alert(1))'],
  ['unicode bidi override in a link', `[${RLO}gpj.exe](https://ok.example/${RLO}gpj.exe)`],
  ['bidi override in text and code', `safe ${RLO}txt.exe\` ${RLO}code\``],
  ['javascript in a linkified bare text', 'see javascript:alert(1) and www.example.com'],
  ['mailto with script', '[mail](mailto:a@example.com?body=<script>alert(1)</script>)']
]

const html: [string, string][] = [
  ['script tag', '<script>alert(1)</script>'],
  ['script block', '<script>\nalert(1)\n</script>\n\ntext'],
  ['style tag', '<style>body{display:none}</style>'],
  ['iframe', '<iframe src="javascript:alert(1)"></iframe>'],
  ['iframe srcdoc', '<iframe srcdoc="<script>alert(1)</script>"></iframe>'],
  ['svg onload', '<svg onload=alert(1)>'],
  ['svg with script', '<svg><script>alert(1)</script></svg>'],
  ['img onerror', '<img src=x onerror=alert(1)>'],
  ['inline html in a paragraph', 'hello <b onclick="alert(1)">bold</b> world'],
  ['html comment', '<!-- <script>alert(1)</script> -->'],
  ['object and embed', '<object data="javascript:alert(1)"></object><embed src="x.swf">'],
  ['form with formaction', '<form><button formaction="javascript:alert(1)">x</button></form>'],
  ['meta refresh', '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'],
  ['base href', '<base href="https://evil.example/">'],
  ['link stylesheet', '<link rel="stylesheet" href="https://evil.example/x.css">'],
  ['a tag with javascript', '<a href="javascript:alert(1)">x</a>'],
  ['details ontoggle', '<details open ontoggle=alert(1)>'],
  ['math and mglyph', '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>'],
  ['template', '<template><script>alert(1)</script></template>'],
  ['entity-encoded script', '&lt;script&gt;alert(1)&lt;/script&gt; &#60;img src=x onerror=alert(1)&#62;'],
  ['html in a table cell', '| a |\n|---|\n| <img src=x onerror=alert(1)> |'],
  ['html in a code span', '`<script>alert(1)</script>`'],
  ['html in a fenced block with a hostile info string', '```"><script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```']
]

const images: [string, string][] = [
  ['remote image', '![tracker](https://evil.example/pixel.png)'],
  ['data: image', '![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)'],
  ['javascript image', '![x](javascript:alert(1))'],
  ['image in a link', '[![x](https://evil.example/p.png)](https://ok.example)'],
  ['reference image', '![x][p]\n\n[p]: https://evil.example/p.png']
]

const size: [string, string][] = [
  ['deeply nested quotes', `${'>'.repeat(2000)} deep`],
  ['deeply nested lists', Array.from({ length: 200 }, (_, i) => `${'  '.repeat(i)}- level ${i}`).join('\n')],
  ['deeply nested emphasis', `${'*'.repeat(3000)}x${'*'.repeat(3000)}`],
  ['many brackets', `${'['.repeat(5000)}x${']'.repeat(5000)}(javascript:alert(1))`],
  ['many backticks', `${'`'.repeat(5000)} code ${'`'.repeat(4999)}`],
  ['alternating backticks', '`a``b```c````d'.repeat(500)],
  ['long line', 'x'.repeat(200_000)],
  ['many links', '[a](https://ok.example) '.repeat(3000)],
  ['many table columns', `${'|a'.repeat(500)}|\n${'|-'.repeat(500)}|\n${'|<b>'.repeat(500)}|`],
  ['unclosed fence', '```\n<script>alert(1)</script>\n'.repeat(200)]
]

export const HOSTILE: { name: string; source: string }[] = [...schemes, ...html, ...images, ...size].map(([name, source]) => ({ name, source }))

/** Elements the renderer may build (markdown-render.ts), and the attributes each may carry. */
export const ALLOWED_ELEMENTS = new Set([
  'DIV',
  'SPAN',
  'P',
  'H3',
  'H4',
  'H5',
  'H6',
  'BLOCKQUOTE',
  'UL',
  'OL',
  'LI',
  'TABLE',
  'THEAD',
  'TBODY',
  'TR',
  'TH',
  'TD',
  'EM',
  'STRONG',
  'S',
  'A',
  'CODE',
  'PRE',
  'BR',
  'HR',
  'BUTTON'
])
export const ALLOWED_ATTRIBUTES: Record<string, string[]> = {
  '*': ['class'],
  A: ['href', 'rel', 'target'],
  OL: ['start'],
  BUTTON: ['type', 'aria-label']
}
export const ALLOWED_SCHEMES = ['http:', 'https:', 'mailto:']
