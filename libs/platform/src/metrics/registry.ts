import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration
} from 'prom-client'

/** Every Palisade metric name starts with this (docs/operations.md lists them all). */
export const METRIC_PREFIX = 'palisade_'

export type { Counter, Gauge, Histogram } from 'prom-client'

type Without<T> = Omit<T, 'name' | 'registers'> & { name: string }

/**
 * One service's metrics: its own prom-client registry (several services share a process in tests),
 * the default process metrics, and factories that prefix names and register in it.
 */
export class ServiceMetrics {
  readonly registry = new Registry()
  readonly httpRequests: Counter<'service' | 'method' | 'route' | 'status_code'>
  readonly httpDuration: Histogram<'service' | 'method' | 'route' | 'status_code'>
  readonly natsRequestDuration: Histogram<'service' | 'subject'>

  constructor(readonly service: string) {
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX })
    const labelNames = ['service', 'method', 'route', 'status_code'] as const
    this.httpRequests = this.counter({ name: 'http_requests_total', help: 'HTTP requests answered, by route pattern', labelNames })
    this.httpDuration = this.histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route pattern',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    })
    this.natsRequestDuration = this.histogram({
      name: 'nats_request_duration_seconds',
      help: 'Time for a NATS request to be answered (or fail), by subject',
      labelNames: ['service', 'subject'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3]
    })
  }

  counter<L extends string>(cfg: Without<CounterConfiguration<L>>): Counter<L> {
    return new Counter({ ...cfg, name: METRIC_PREFIX + cfg.name, registers: [this.registry] })
  }

  gauge<L extends string>(cfg: Without<GaugeConfiguration<L>>): Gauge<L> {
    return new Gauge({ ...cfg, name: METRIC_PREFIX + cfg.name, registers: [this.registry] })
  }

  histogram<L extends string>(cfg: Without<HistogramConfiguration<L>>): Histogram<L> {
    return new Histogram({ ...cfg, name: METRIC_PREFIX + cfg.name, registers: [this.registry] })
  }
}
