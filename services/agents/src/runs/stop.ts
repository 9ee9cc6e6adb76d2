import type { RunFailureReason } from '@palisade/contracts'
import type { ProviderRegistry } from '../providers/registry.js'
import { ProviderError } from '../providers/types.js'

/** Why a run stops early; used as the abort reason of the run's AbortController. */
export class RunStop extends Error {
  override name = 'RunStop'
  constructor(
    readonly status: 'failed' | 'cancelled',
    readonly reason: RunFailureReason | 'cancelled',
    detail: string
  ) {
    super(detail)
  }

  static failed(reason: RunFailureReason, detail: string): RunStop {
    return new RunStop('failed', reason, detail)
  }

  static cancelled(detail = 'cancelled by the user'): RunStop {
    return new RunStop('cancelled', 'cancelled', detail)
  }
}

/** A run-ending error as the audit trail records it (provider keys scrubbed, internals hidden). */
export function describeStop(providers: ProviderRegistry, err: unknown): string {
  if (err instanceof RunStop) return `${err.reason}: ${err.message}`
  if (err instanceof ProviderError) return `${err.reason}: ${providers.redact(err.message)}`
  return 'internal error'
}
