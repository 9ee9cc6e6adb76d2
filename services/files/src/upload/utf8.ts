import { isUtf8 } from 'node:buffer'

const EMPTY = Buffer.alloc(0)

/** Bytes at the end of `buf` that start a multi-byte sequence the buffer does not complete. */
function incompleteTail(buf: Buffer): number {
  for (let i = 1; i <= Math.min(3, buf.length); i++) {
    const b = buf[buf.length - i]!
    if ((b & 0xc0) === 0x80) continue
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
    return need > i ? i : 0
  }
  return 0
}

/**
 * Checks a byte stream for strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF),
 * chunk by chunk, carrying a sequence split across chunks; notes NUL bytes (a binary marker).
 */
export class Utf8Validator {
  valid = true
  hasNul = false
  private carry: Buffer = EMPTY

  push(chunk: Buffer): void {
    if (!this.valid) return
    if (!this.hasNul && chunk.includes(0)) this.hasNul = true
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk
    const cut = incompleteTail(buf)
    this.carry = cut > 0 ? Buffer.from(buf.subarray(buf.length - cut)) : EMPTY
    if (!isUtf8(cut > 0 ? buf.subarray(0, buf.length - cut) : buf)) this.valid = false
  }

  /** True when everything pushed was valid UTF-8 and no sequence was left open. */
  end(): boolean {
    if (this.carry.length > 0) this.valid = false
    this.carry = EMPTY
    return this.valid
  }
}

/** The longest prefix of `buf` that ends on a character boundary (for size-capped text). */
export function utf8Prefix(buf: Buffer): Buffer {
  const cut = incompleteTail(buf)
  return cut > 0 ? buf.subarray(0, buf.length - cut) : buf
}
