import type { Gauge, Registry } from 'prom-client';

const HISTOGRAM_GAUGES = ['min', 'max', 'mean', 'p50', 'p90', 'p99'] as const;

/**
 * prom-client's event-loop gauges read Node's monitorEventLoopDelay histogram, which records the
 * time between two of its timer's ticks: the sampling interval plus the lag. At the 500 ms
 * interval kube-local-lb samples at (2 wake-ups a second, where 10 ms cost an idle proxy 17 ms
 * of CPU a second), an idle process would read 0.5 s of "lag" on every standard dashboard. The
 * same histogram is read here with the interval taken off, so the gauges read the delay a
 * callback waited: ~0 when idle, the length of a stall when one happened. No timer is added.
 * `nodejs_eventloop_lag_seconds` (a setImmediate measured at scrape time) and the standard
 * deviation (`stddev`) need no correction.
 *
 * A scrape that finds no sample since the last one (scrapes closer than the interval) reads 0
 * rather than prom-client's "min above max" artefact.
 */
export function correctEventLoopLag(registry: Registry, prefix: string, intervalMs: number): void {
  const interval = intervalMs / 1000;
  for (const name of HISTOGRAM_GAUGES) {
    const gauge = registry.getSingleMetric(`${prefix}nodejs_eventloop_lag_${name}_seconds`) as Gauge | undefined;
    // A prom-client without the histogram (or with other names): nothing to correct.
    if (gauge === undefined) continue;
    // prom-client sets these gauges, synchronously, from its lag gauge's collect: each value is
    // corrected as it is set. An empty histogram reads min 9.2e9 s and mean NaN.
    const set = gauge.set.bind(gauge) as (labels: object, value: number) => void;
    (gauge as unknown as { set: (labels: object, value: number) => void }).set = (labels, value) =>
      set(labels, Number.isFinite(value) && value < EMPTY_MIN_SECONDS ? Math.max(0, value - interval) : 0);
  }
}

/** What an empty histogram's min reads (2^63 ns): no sample since the last scrape. */
const EMPTY_MIN_SECONDS = 1e9;
