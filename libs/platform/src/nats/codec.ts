import type { TSchema, Static } from 'typebox'
import { Compile } from 'typebox/compile'

type Validator = ReturnType<typeof Compile>
const compiled = new WeakMap<TSchema, Validator>()

/** Compiled once per schema object and reused: validation sits on every NATS message. */
export function validatorFor(schema: TSchema): Validator {
  let v = compiled.get(schema)
  if (!v) {
    v = Compile(schema)
    compiled.set(schema, v)
  }
  return v
}

export class PayloadError extends Error {
  override name = 'PayloadError'
}

export const MAX_NATS_PAYLOAD_BYTES = 1024 * 1024

/** Parses and validates a NATS payload; throws PayloadError naming the first problem. */
export function decodePayload<S extends TSchema>(schema: S, data: Uint8Array): Static<S> {
  if (data.byteLength > MAX_NATS_PAYLOAD_BYTES) throw new PayloadError('payload too large')
  let value: unknown
  try {
    value = data.byteLength === 0 ? {} : JSON.parse(new TextDecoder().decode(data))
  } catch {
    throw new PayloadError('payload is not valid JSON')
  }
  const v = validatorFor(schema)
  if (!v.Check(value)) {
    const first = [...v.Errors(value)][0]
    throw new PayloadError(`payload invalid at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`)
  }
  return value as Static<S>
}

export function encodePayload(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value))
}
