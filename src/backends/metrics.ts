import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { REASONS, type Verdict } from '../health/verdict.js';
import { STATE_KINDS, type StateKind } from './transitions.js';

const P = 'kube_local_lb_';
const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'unauthorized', 'unreachable'];
const DIRECTIONS = ['client_to_backend', 'backend_to_client'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** What the metrics read at scrape time instead of being told on every session. */
export interface SessionCounts {
  /** Per backend address: sessions open now, and sessions established since start. */
  sessionCounts(): Iterable<{ backend: string; open: number; established: number; bytesUp: number; bytesDown: number }>;
}

/**
 * The metrics of backends: their state, checks, sessions and bytes, and panic mode. Labels come
 * only from bounded sets: backend addresses, verdicts, reasons, states, directions. A removed
 * backend's series go with it (`forget`).
 */
export class BackendMetrics {
  readonly backendState: Gauge<'backend' | 'state'>;
  readonly backendSessions: Gauge<'backend'>;
  readonly sessionsTotal: Counter<'backend'>;
  readonly connectFailures: Counter<'backend' | 'reason'>;
  readonly bytes: Counter<'backend' | 'direction'>;
  readonly checks: Counter<'backend' | 'verdict'>;
  readonly checkDuration: Histogram<'backend'>;
  readonly transitions: Counter<'backend' | 'from' | 'to'>;
  readonly ejectedSessions: Counter<'backend'>;
  readonly rebalancedSessions: Counter<'backend'>;
  readonly checkAuthorized: Gauge<'backend'>;
  readonly panic: Gauge;
  readonly allBackendsDown: Gauge;
  #source: SessionCounts | undefined;
  readonly #reported = new Map<string, number>();

  constructor(registry: Registry) {
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
    this.ejectedSessions = new Counter({
      name: `${P}ejected_sessions_total`,
      help: 'Sessions reset because their backend went down (eject, spread over --eject-spread), so that their clients redial.',
      labelNames: ['backend'] as const,
      registers,
    });
    this.rebalancedSessions = new Counter({
      name: `${P}rebalanced_sessions_total`,
      help: 'Quiet sessions closed on this backend so that their clients redial a less loaded one (--rebalance).',
      labelNames: ['backend'] as const,
      registers,
    });
    this.checkAuthorized = new Gauge({
      name: `${P}backend_check_authorized`,
      help: '1 when the health-check credential is accepted by the backend, 0 after a 401/403.',
      labelNames: ['backend'] as const,
      registers,
    });
    this.panic = new Gauge({
      name: `${P}panic`,
      help: '1 while no backend is up and draining backends are used as a last resort.',
      registers,
    });
    this.panic.set(0);
    this.allBackendsDown = new Gauge({
      name: `${P}all_backends_down`,
      help: '1 while no backend is eligible (every one down, none draining): new clients are refused.',
      registers,
    });
    this.allBackendsDown.set(0);
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
    this.rebalancedSessions.remove({ backend });
    this.checkAuthorized.remove({ backend });
  }
}
