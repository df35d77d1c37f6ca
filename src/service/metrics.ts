import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import { correctEventLoopLag } from './eventloop-lag.js';
import { BackendMetrics } from '../backends/metrics.js';
import { DiscoveryMetrics } from '../discovery/metrics.js';
import { ProxyMetrics } from '../proxy/metrics.js';
import { VERSION } from '../version.js';

const P = 'kube_local_lb_';

/** The metrics of the process itself: its build, its reloads, and Node's own. */
export class ServiceMetrics {
  readonly configReloads: Counter<'result'>;
  readonly buildInfo: Gauge<'version' | 'node_version'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.configReloads = new Counter({
      name: `${P}config_reloads_total`,
      help: 'Configuration reloads, by result (applied, rejected).',
      labelNames: ['result'] as const,
      registers,
    });
    this.buildInfo = new Gauge({
      name: `${P}build_info`,
      help: 'Build information; always 1.',
      labelNames: ['version', 'node_version'] as const,
      registers,
    });
    this.buildInfo.set({ version: VERSION, node_version: process.version }, 1);
    // Every result exported from the start, at 0: an alert on increase() then sees the first
    // rejection (a series that first appears at 1 shows no increase).
    for (const result of ['applied', 'rejected']) this.configReloads.inc({ result }, 0);
    // Event-loop lag sampled every 500 ms, not prom-client's 10 ms: a 10 ms timer wakes an idle
    // proxy 100 times a second, which measured 17 ms of CPU per second on every node (1 ms now).
    // correctEventLoopLag takes the 500 ms between samples off what the gauges read.
    collectDefaultMetrics({ register: registry, prefix: P, eventLoopMonitoringPrecision: 500 });
    correctEventLoopLag(registry, P, 500);
    // prom-client names three of its gauges *_total, which Prometheus reserves for counters
    // (promtool check metrics flags them); the same numbers remain, by type, without the suffix.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      registry.removeSingleMetric(`${P}${name}`);
    }
  }
}

/** Every part's metrics, on the one registry `/metrics` serves. */
export interface AppMetrics {
  readonly backends: BackendMetrics;
  readonly proxy: ProxyMetrics;
  readonly discovery: DiscoveryMetrics;
  readonly service: ServiceMetrics;
}

export function createMetrics(registry: Registry): AppMetrics {
  return {
    backends: new BackendMetrics(registry),
    proxy: new ProxyMetrics(registry),
    discovery: new DiscoveryMetrics(registry),
    service: new ServiceMetrics(registry),
  };
}
