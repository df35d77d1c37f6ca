import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { STATE_KINDS, type StateKind } from './backends/transitions.js';
import { REASONS, type Verdict } from './health/verdict.js';
import { allBackendsDownGauge } from './backends/availability.js';
import { correctEventLoopLag } from './eventloop-lag.js';
import { VERSION } from './version.js';

const P = 'kube_local_lb_';
const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'unauthorized', 'unreachable'];
const DIRECTIONS = ['client_to_backend', 'backend_to_client'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/**
 * Every metric kube-local-lb exports, registered on one Registry (a fresh one per test).
 * Labels come only from bounded sets: backend addresses, verdicts, reasons, states, directions.
 */
/** What the metrics read at scrape time instead of being told on every session. */
export interface SessionCounts {
  /** Per backend address: sessions open now, and sessions established since start. */
  sessionCounts(): Iterable<{ backend: string; open: number; established: number; bytesUp: number; bytesDown: number }>;
}

export class Metrics {
  readonly backendState: Gauge<'backend' | 'state'>;
  readonly backendSessions: Gauge<'backend'>;
  readonly sessionsTotal: Counter<'backend'>;
  readonly connectFailures: Counter<'backend' | 'reason'>;
  readonly bytes: Counter<'backend' | 'direction'>;
  readonly checks: Counter<'backend' | 'verdict'>;
  readonly checkDuration: Histogram<'backend'>;
  readonly transitions: Counter<'backend' | 'from' | 'to'>;
  readonly replays: Counter<'reason'>;
  readonly ejectedSessions: Counter<'backend'>;
  readonly rejectedConnections: Counter<'reason'>;
  readonly connectDuration: Histogram;
  readonly checkAuthorized: Gauge<'backend'>;
  readonly configReloads: Counter<'result'>;
  readonly panic: Gauge;
  readonly maxConnections: Gauge;
  readonly buildInfo: Gauge<'version' | 'node_version'>;
  readonly discoveredBackends: Gauge;
  readonly discoveryEvents: Counter<'type'>;
  readonly discoveryErrors: Counter<'reason'>;
  #source: SessionCounts | undefined;
  readonly #reported = new Map<string, number>();

  constructor(readonly registry: Registry) {
    const registers = [registry];
    const metrics = this;
    this.backendState = new Gauge({
      name: `${P}backend_state`,
      help: 'Current state of each backend: 1 for the state it is in, 0 for the others.',
      labelNames: ['backend', 'state'] as const,
      registers,
    });
    // Session counts are read from the pool when scraped: a session costs no metric update.
    this.backendSessions = new Gauge({
      name: `${P}backend_sessions`,
      help: 'Sessions (proxied client connections) currently open to each backend.',
      labelNames: ['backend'] as const,
      registers,
      collect() {
        for (const c of metrics.#source?.sessionCounts() ?? []) this.set({ backend: c.backend }, c.open);
      },
    });
    this.sessionsTotal = new Counter({
      name: `${P}sessions_total`,
      help: 'Sessions established to each backend.',
      labelNames: ['backend'] as const,
      registers,
      collect() {
        for (const c of metrics.#source?.sessionCounts() ?? []) {
          const delta = c.established - (metrics.#reported.get(c.backend) ?? 0);
          if (delta > 0) this.inc({ backend: c.backend }, delta);
          metrics.#reported.set(c.backend, c.established);
        }
      },
    });
    this.connectFailures = new Counter({
      name: `${P}connect_failures_total`,
      help: 'Failed attempts to reach a backend for a session, by reason.',
      labelNames: ['backend', 'reason'] as const,
      registers,
    });
    this.bytes = new Counter({
      name: `${P}bytes_total`,
      help: 'Bytes proxied, by backend and direction.',
      labelNames: ['backend', 'direction'] as const,
      registers,
      collect() {
        for (const c of metrics.#source?.sessionCounts() ?? []) {
          for (const [direction, total] of [['client_to_backend', c.bytesUp], ['backend_to_client', c.bytesDown]] as const) {
            const key = `${c.backend}|${direction}`;
            const delta = total - (metrics.#reported.get(key) ?? 0);
            if (delta > 0) this.inc({ backend: c.backend, direction }, delta);
            metrics.#reported.set(key, total);
          }
        }
      },
    });
    this.checks = new Counter({
      name: `${P}checks_total`,
      help: 'Active health checks, by verdict (pass, fail, unauthorized, unreachable).',
      labelNames: ['backend', 'verdict'] as const,
      registers,
    });
    this.checkDuration = new Histogram({
      name: `${P}check_duration_seconds`,
      help: 'Duration of active health checks.',
      labelNames: ['backend'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.transitions = new Counter({
      name: `${P}backend_transitions_total`,
      help: 'Backend state changes.',
      labelNames: ['backend', 'from', 'to'] as const,
      registers,
    });
    this.replays = new Counter({
      name: `${P}replays_total`,
      help: 'Sessions moved to another backend before the first one answered, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.ejectedSessions = new Counter({
      name: `${P}ejected_sessions_total`,
      help: 'Sessions reset at once because their backend went down (eject), so that their clients redial.',
      labelNames: ['backend'] as const,
      registers,
    });
    this.rejectedConnections = new Counter({
      name: `${P}rejected_connections_total`,
      help: 'Client connections closed without a session, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.connectDuration = new Histogram({
      name: `${P}connect_duration_seconds`,
      help: 'Time from accepting a client to the backend connection being established.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.checkAuthorized = new Gauge({
      name: `${P}backend_check_authorized`,
      help: '1 when the health-check credential is accepted by the backend, 0 after a 401/403.',
      labelNames: ['backend'] as const,
      registers,
    });
    this.configReloads = new Counter({
      name: `${P}config_reloads_total`,
      help: 'Configuration reloads, by result (applied, rejected).',
      labelNames: ['result'] as const,
      registers,
    });
    this.panic = new Gauge({
      name: `${P}panic`,
      help: '1 while no backend is up and draining backends are used as a last resort.',
      registers,
    });
    this.maxConnections = new Gauge({
      name: `${P}max_connections`,
      help: 'The --max-connections limit: past it new client connections are refused.',
      registers,
    });
    this.buildInfo = new Gauge({
      name: `${P}build_info`,
      help: 'Build information; always 1.',
      labelNames: ['version', 'node_version'] as const,
      registers,
    });
    this.discoveredBackends = new Gauge({
      name: `${P}discovered_backends`,
      help: 'Backends in the last good list discovery found (EndpointSlice default/kubernetes), seeds included when listed.',
      registers,
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
    this.buildInfo.set({ version: VERSION, node_version: process.version }, 1);
    this.panic.set(0);
    allBackendsDownGauge(registry);
    // Every result and reason is exported from the start, at 0: an alert on increase() then sees
    // the first rejection (a series that first appears at 1 shows no increase).
    for (const result of ['applied', 'rejected']) this.configReloads.inc({ result }, 0);
    for (const reason of ['no_backend', 'backends_failed', 'max_connections']) this.rejectedConnections.inc({ reason }, 0);
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

  /** Where session counts come from (the pool). */
  countSessionsFrom(source: SessionCounts): void {
    this.#source = source;
  }

  setState(backend: string, state: StateKind): void {
    for (const s of STATE_KINDS) this.backendState.set({ backend, state: s }, s === state ? 1 : 0);
  }

  /** A removed backend's series go with it. */
  forget(backend: string): void {
    for (const state of STATE_KINDS) this.backendState.remove({ backend, state });
    this.backendSessions.remove({ backend });
    this.sessionsTotal.remove({ backend });
    for (const key of [backend, `${backend}|client_to_backend`, `${backend}|backend_to_client`]) this.#reported.delete(key);
    for (const reason of Object.keys(REASONS)) this.connectFailures.remove({ backend, reason });
    for (const direction of DIRECTIONS) this.bytes.remove({ backend, direction });
    for (const verdict of VERDICTS) this.checks.remove({ backend, verdict });
    this.checkDuration.remove({ backend });
    for (const from of STATE_KINDS) for (const to of STATE_KINDS) this.transitions.remove({ backend, from, to });
    this.ejectedSessions.remove({ backend });
    this.checkAuthorized.remove({ backend });
  }
}
