import { Counter, Gauge, type Registry } from 'prom-client';

const P = 'kube_local_lb_';

/** The metrics of discovery: what the watch received, what failed, and how many backends it found. */
export class DiscoveryMetrics {
  readonly discoveredBackends: Gauge;
  readonly discoveryEvents: Counter<'type'>;
  readonly discoveryErrors: Counter<'reason'>;
  #discovered: () => number = () => 0;

  constructor(registry: Registry) {
    const registers = [registry];
    const metrics = this;
    // Read from the pool when scraped: the pool holds the list, this only reports its size.
    this.discoveredBackends = new Gauge({
      name: `${P}discovered_backends`,
      help: 'Backends in the last good list discovery found (EndpointSlice default/kubernetes), seeds included when listed.',
      registers,
      collect() {
        this.set(metrics.#discovered());
      },
    });
    this.discoveryEvents = new Counter({
      name: `${P}discovery_events_total`,
      help: 'What the discovery watch received, by type (ADDED, MODIFIED, DELETED, BOOKMARK), and full lists (relist).',
      labelNames: ['type'] as const,
      registers,
    });
    this.discoveryErrors = new Counter({
      name: `${P}discovery_errors_total`,
      help: 'Discovery requests that failed or answers that were not used, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
  }

  /** Where the number of discovered backends comes from (the pool). */
  countDiscoveredFrom(count: () => number): void {
    this.#discovered = count;
  }
}
