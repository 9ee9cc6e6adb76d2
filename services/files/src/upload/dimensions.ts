import { disableFS, imageSize } from 'image-size'
import type { ISizeCalculationResult } from 'image-size/dist/types/interface.js'
import { IMAGE_DIMENSION_MAX } from '@palisade/contracts'

// Only ever given bytes in memory: never let a stray string become a path read.
disableFS(true)

/**
 * Plaintext kept from the start of an upload to find an image's size in: a JPEG's frame header
 * follows its EXIF (up to 64 KiB, thumbnail included) and ICC segments, so the sniffer's 64 KiB
 * head is not always enough. A header past this is not looked for (the size stays null).
 */
export const IMAGE_HEAD_BYTES = 256 * 1024

export interface Dimensions {
  width: number
  height: number
}

/** image-size's names for the image types the service accepts (ALLOWED_FILE_TYPES). */
const SIZE_TYPES: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/avif': 'avif'
}

/**
 * An image's displayed size from the first bytes of its plaintext (the receiver's head, taken while
 * streaming: the blob on disk is sealed and is never re-read for this). Null when the bytes are not
 * an image, the header is cut off (a JPEG whose frame header lies past the head), the parser's idea
 * of the type differs from the sniffed one, or a side is outside 1..IMAGE_DIMENSION_MAX: a header
 * that lies costs the client a reserved frame, never a wrong one.
 */
export function imageDimensions(type: string, head: Buffer): Dimensions | null {
  const expected = SIZE_TYPES[type]
  if (!expected) return null
  let result: ISizeCalculationResult
  try {
    result = imageSize(head)
  } catch {
    return null
  }
  if (result.type !== expected) return null
  let { width, height } = result
  if (!sane(width) || !sane(height)) return null
  // EXIF orientations 5–8 rotate by 90°: browsers display the image with its sides swapped.
  if (result.orientation !== undefined && result.orientation >= 5) [width, height] = [height, width]
  return { width, height }
}

function sane(n: number | undefined): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= IMAGE_DIMENSION_MAX
}
