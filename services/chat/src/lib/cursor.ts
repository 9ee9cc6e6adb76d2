import { cursorCodec, seqPosition, uuidPosition } from '@palisade/platform'

/**
 * Chat's paging cursors. A position is only ever used inside a query that is already restricted to
 * what the caller may see, so a forged cursor can at most move within the caller's own data.
 */
export const conversationCursor = cursorCodec('c', seqPosition)
export const memberCursor = cursorCodec('u', uuidPosition)
export const messageCursor = cursorCodec('m', seqPosition)
export const searchCursor = cursorCodec('s', seqPosition)
