import type { RunFailureReason } from '@palisade/contracts'

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
