/**
 * A QR code as SVG elements (no image service, no inline style: fits the strict CSP). The symbol
 * is computed by the `qrcode` library, loaded only when a code is shown.
 */
const SVG = 'http://www.w3.org/2000/svg'

export async function qrCode(text: string, label: string): Promise<SVGSVGElement> {
  const mod = await import('qrcode')
  const { modules } = (mod.default ?? mod).create(text, { errorCorrectionLevel: 'M' })
  const margin = 4
  const dim = modules.size + 2 * margin
  let d = ''
  for (let row = 0; row < modules.size; row++) {
    for (let col = 0; col < modules.size; col++) if (modules.get(row, col)) d += `M${col + margin} ${row + margin}h1v1h-1z`
  }
  const svg = document.createElementNS(SVG, 'svg')
  for (const [k, v] of Object.entries({
    viewBox: `0 0 ${dim} ${dim}`,
    width: '200',
    height: '200',
    role: 'img',
    'aria-label': label,
    'shape-rendering': 'crispEdges'
  })) {
    svg.setAttribute(k, v)
  }
  const bg = document.createElementNS(SVG, 'rect')
  for (const [k, v] of Object.entries({ width: String(dim), height: String(dim), fill: '#fff' })) bg.setAttribute(k, v)
  const path = document.createElementNS(SVG, 'path')
  path.setAttribute('d', d)
  path.setAttribute('fill', '#000')
  svg.append(bg, path)
  svg.classList.add('qr')
  return svg
}
