import { Type } from 'typebox'

export const UuidSchema = Type.String({ format: 'uuid', minLength: 36, maxLength: 36 })
export const IdParamsSchema = Type.Object({ id: UuidSchema }, { additionalProperties: false })
export const EmptyObjectSchema = Type.Object({}, { additionalProperties: false })
export const IsoDateSchema = Type.String({ format: 'date-time', maxLength: 40 })
export const CursorSchema = Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_-]+$' })
export const PageQuerySchema = Type.Object(
  {
    cursor: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 }))
  },
  { additionalProperties: false }
)
