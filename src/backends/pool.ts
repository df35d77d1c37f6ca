import { addressKey } from '../config/address.js';
import type { Section } from '../config/changes.js';
import type { BackendConfig, Config, HealthConfig } from '../config/schema.js';
import { Checker, type CheckResult, type NextCheck } from '../health/checker.js';
import { CredentialSource, type ProbeCredentials } from '../health/credentials.js';
import { REASONS, type Reason, verdictOf } from '../health/verdict.js';
import type { Logger } from '../log.js';
import { AvailabilityWatch } from './availability.js';
import { Backend, type Transition } from './backend.js';
import type { BackendMetrics } from './metrics.js';
import { type Candidate, select } from './select.js';
import { checkReason, eligibilityRank, nextCheck } from './transitions.js';

export interface PoolOptions {
  log: Logger;
  metrics: BackendMetrics;
  random?: () => number;
  now?: () => number;
}

/**
 * The set of backends, their checkers, and selection. Data flows one way: checkers feed verdicts
 * into backends; sessions ask the pool for a backend and report how the connect went.
 */
export class Pool {
  readonly #backends = new Map<string, Backend>();
  readonly #checkers = new Map<Backend, Checker>();
  readonly #log: Logger;
  readonly #metrics: BackendMetrics;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #cursor: { next: number };
  #config: Config;
  #credentials: CredentialSource;
  #credentialError = '';
  #panic = false;
  /** When the node entered panic, while it is in it. */
  #panicSince = 0;
  readonly #availability: AvailabilityWatch;
  #closed = false;
  #started = false;
  /** What discovery found, by address: backends in addition to the configured seeds. */
  readonly #discovered = new Map<string, BackendConfig>();

  constructor(config: Config, o: PoolOptions) {
    this.#config = config;
    this.#log = o.log.child({ component: 'pool' });
    this.#metrics = o.metrics;
    this.#availability = new AvailabilityWatch(o.metrics.allBackendsDown, this.#log);
    this.#random = o.random ?? Math.random;
    this.#now = o.now ?? Date.now;
    this.#cursor = { next: Math.floor(this.#random() * 1_000_000) };
    this.#credentials = new CredentialSource(config.health);
    this.#log.info({ event: 'health_credentials', credential: this.#credentials.describe() },
      `health checks authenticate with: ${this.#credentials.describe()}`);
    for (const spec of config.backends) this.#add(spec);
    this.#metrics.countSessionsFrom({
      sessionCounts: () =>
        this.backends.map((b) => {
          for (const s of b.sessions) s.flushBytes();
          return { backend: b.address, open: b.activeSessions, established: b.established, bytesUp: b.bytesUp, bytesDown: b.bytesDown };
        }),
    });
  }

  get backends(): Backend[] {
    return [...this.#backends.values()];
  }

  get panic(): boolean {
    return this.#panic;
  }

  get health(): HealthConfig {
    return this.#config.health;
  }

  /** How the checks authenticate: the mode and its files, never their contents. */
  get credential(): string {
    return this.#credentials.describe();
  }

  /** The health checks' credential as it is now (re-read when its files change): discovery uses it too. */
  probeCredentials(): Promise<ProbeCredentials> {
    return this.#credentials.current();
  }

  /** Starts every checker; the first checks run at once. */
  start(): void {
    this.#started = true;
    for (const checker of this.#checkers.values()) checker.start();
  }

  /**
   * The backend for a new session, or undefined when none is eligible. Eligible: `up`; while no
   * backend is up, `unknown` ones (a cold start is served from its first millisecond); while none
   * is up or unknown, `draining` ones (panic: an apiserver that answers beats a refused connection).
   */
  pick(exclude: ReadonlySet<Backend>): Backend | undefined {
    const now = this.#now();
    // One pass: the candidates of the best class present (up, else unknown, else draining).
    let best = Infinity;
    const candidates: (Candidate & { b: Backend })[] = [];
    for (const b of this.#backends.values()) {
      if (b.removed || exclude.has(b)) continue;
      const r = eligibilityRank(b.state.kind);
      if (r === undefined || r > best) continue;
      if (r < best) {
        best = r;
        candidates.length = 0;
      }
      candidates.push({ b, address: b.address, priority: b.priority, weight: b.weight,
        activeSessions: b.activeSessions, ramp: b.rampAt(now), suspect: b.suspect });
    }
    return select(candidates, this.#config.balance, this.#random, this.#cursor)?.b;
  }

  /** Whether any backend would be picked now (the admin `/readyz`). */
  hasEligible(): boolean {
    return this.backends.some((b) => !b.removed && b.state.kind !== 'down');
  }

  /** A session could not reach `backend`: count it, and let a check confirm at once. */
  reportFailure(backend: Backend, reason: Reason): void {
    this.#metrics.connectFailures.inc({ backend: backend.address, reason });
    if (backend.removed) return;
    backend.recordSessionFailure(reason, this.#now());
    this.#checkers.get(backend)?.checkNow();
  }

  reportSuccess(backend: Backend): void {
    backend.recordSessionSuccess();
  }

  /** Applies a new config: backends added, removed (drained) or re-weighted; health settings next check. */
  update(config: Config, changes: ReadonlySet<Section>): void {
    this.#config = config;
    if (changes.has('health')) this.#credentials = new CredentialSource(config.health);
    const wanted = new Map(config.backends.map((b) => [b.address, b]));
    for (const [address, backend] of this.#backends) {
      const spec = wanted.get(address);
      if (spec) {
        backend.reconfigure(spec);
      } else if (!this.#discovered.has(address)) {
        this.#remove(backend);
      }
    }
    for (const spec of config.backends) {
      if (!this.#backends.has(spec.address)) this.#add(spec).start();
    }
    this.#updatePanic();
  }

  /** The addresses discovery found last (seeds among them under the seed's spelling). */
  get discovered(): string[] {
    return [...this.#discovered.keys()];
  }

  /**
   * Sets what discovery found. A new address becomes a backend (checked like any other; `unknown`
   * until its first verdict); a discovered address no longer listed is removed like a backend
   * dropped from the config: drained, not ejected (a down one's sessions were ejected already).
   * Seeds (the configured backends) are never removed here. Refusing an empty list is the
   * caller's job: this sets what it is given.
   */
  setDiscovered(list: readonly BackendConfig[]): void {
    const seeds = new Map(this.#config.backends.map((b) => [addressKey(b), b]));
    // A seed written as discovery writes it is one backend, under the operator's spelling.
    const next = new Map(list.map((spec) => {
      const seed = seeds.get(addressKey(spec));
      return [seed?.address ?? spec.address, seed ?? spec] as const;
    }));
    const isSeed = (address: string): boolean => this.#config.backends.some((b) => b.address === address);
    for (const address of [...this.#discovered.keys()]) {
      if (next.has(address)) continue;
      this.#discovered.delete(address);
      const backend = this.#backends.get(address);
      const seed = isSeed(address);
      this.#log.info({ event: 'backend_undiscovered', backend: address, seed, sessions: backend?.activeSessions ?? 0 },
        seed ? `backend ${address} no longer discovered; it stays as a configured backend` : `backend ${address} no longer discovered`);
      if (backend && !seed) this.#remove(backend);
    }
    for (const [address, spec] of next) {
      if (this.#discovered.has(address)) continue;
      this.#discovered.set(address, spec);
      const seed = isSeed(address);
      this.#log.info({ event: 'backend_discovered', backend: address, seed },
        seed ? `configured backend ${address} discovered` : `backend ${address} discovered`);
      if (this.#backends.has(address) || this.#closed) continue;
      const checker = this.#add(spec);
      if (this.#started) checker.start();
    }
    this.#updatePanic();
  }

  #add(spec: Config['backends'][number]): Checker {
    const backend: Backend = new Backend(spec, () => ({ rise: this.#config.health.rise, fall: this.#config.health.fall,
      slowStartMs: this.#config.slowStartMs, drainTimeoutMs: this.#config.drainTimeoutMs,
      strandGraceMs: this.#config.health.intervalMs + this.#config.health.timeoutMs,
      ejectSpreadMs: this.#config.ejectSpreadMs }),
      (t) => this.#onTransition(t), this.#now(), () => !this.#othersLive(backend),
      (b, reason): void => {
        this.#logEject(b, reason);
        b.eject(reason, this.#now());
      }, this.#random);
    this.#backends.set(spec.address, backend);
    this.#metrics.setState(backend.address, 'unknown');
    this.#metrics.checkAuthorized.set({ backend: backend.address }, 1);
    const checker = new Checker({
      target: backend,
      settings: () => this.#config.health,
      credentials: () => this.#credentials.current(),
      onResult: (r) => this.#onCheck(backend, r),
      onCredentialError: (err) => {
        if (err.message === this.#credentialError) return;
        this.#credentialError = err.message;
        this.#log.error({ event: 'health_credentials_error', error: err.message },
          `health credential cannot be loaded, checking anonymously: ${err.message}`);
      },
      onError: (err) => {
        this.#log.error({ event: 'health_check_error', backend: backend.address, err },
          `health check of ${backend.address} failed unexpectedly; the next runs an interval later`);
      },
      random: this.#random,
      now: this.#now,
    });
    this.#checkers.set(backend, checker);
    this.#log.info({ event: 'backend_added', backend: backend.address, priority: spec.priority, weight: spec.weight },
      `backend ${backend.address} added`);
    return checker;
  }

  #remove(backend: Backend): void {
    this.#checkers.get(backend)?.stop();
    this.#checkers.delete(backend);
    this.#backends.delete(backend.address);
    backend.remove();
    this.#metrics.forget(backend.address);
    this.#log.info({ event: 'backend_removed', backend: backend.address, sessions: backend.activeSessions },
      `backend ${backend.address} removed; ${backend.activeSessions} sessions drain`);
  }

  #onCheck(backend: Backend, r: CheckResult): NextCheck {
    const acceptedElsewhere = this.backends.some((b) => b !== backend && !b.removed && b.lastCheck?.reason === 'ok');
    const reason = checkReason(r.reason, acceptedElsewhere);
    const verdict = verdictOf(reason);
    this.#metrics.checks.inc({ backend: backend.address, verdict });
    this.#metrics.checkDuration.observe({ backend: backend.address }, r.durationMs / 1000);
    const before = backend.state;
    const { authorizedChanged } = backend.recordCheck({ at: r.at, reason, durationMs: r.durationMs, status: r.status });
    if (authorizedChanged) this.#onAuthorizationChange(backend, reason);
    const h = this.#config.health;
    const t = { rise: h.rise, fall: h.fall, slowStartMs: this.#config.slowStartMs };
    return nextCheck(backend.state, backend.streak, reason, t, this.#now(), backend.state !== before);
  }

  #onAuthorizationChange(backend: Backend, reason: Reason): void {
    this.#metrics.checkAuthorized.set({ backend: backend.address }, backend.authorized ? 1 : 0);
    if (backend.authorized) {
      this.#log.info({ event: 'backend_check_authorized', backend: backend.address },
        `health checks of ${backend.address} are authorized again`);
    } else {
      this.#log.error({ event: 'backend_check_unauthorized', backend: backend.address, reason,
        credential: this.#credentials.describe() },
        `health check of ${backend.address} rejected: ${REASONS[reason].text}; credential: ${this.#credentials.describe()}; ` +
        (reason === 'refused_here' ? 'no new sessions until it accepts the credential' : 'the backend stays in service'));
    }
  }

  #onTransition(t: Transition): void {
    const { backend, from, to, reason } = t;
    const address = backend.address;
    this.#metrics.setState(address, to.kind);
    this.#metrics.transitions.inc({ backend: address, from: from.kind, to: to.kind });
    const eligible = this.backends.filter((b) => b.state.kind === 'up').length;
    const level = to.kind === 'up' ? 'info' : 'warn';
    this.#log[level]({ event: 'backend_state', backend: address, from: from.kind, to: to.kind, reason,
      checkMs: backend.lastCheck ? Math.round(backend.lastCheck.durationMs) : undefined,
      sessions: backend.activeSessions, up: eligible },
      `backend ${address} ${to.kind}: ${REASONS[reason].text}`);
    if (t.ejects) {
      this.#logEject(backend, reason);
    } else if (to.kind === 'down' && backend.activeSessions > 0) {
      this.#log.info({ event: 'backend_sessions_left', backend: address, sessions: backend.activeSessions, reason },
        `${backend.activeSessions} sessions of ${address} are left to end by themselves (its listener refuses; ` +
        'an apiserver in graceful shutdown still serves them), or at the drain timeout');
    }
    this.#updatePanic();
  }

  /** Whether a backend other than this one can take new sessions without panic (up or unknown). */
  #othersLive(backend: Backend): boolean {
    for (const b of this.#backends.values()) {
      if (b === backend || b.removed) continue;
      const rank = eligibilityRank(b.state.kind);
      if (rank !== undefined && rank <= 1) return true;
    }
    return false;
  }

  #logEject(backend: Backend, reason: Reason): void {
    this.#metrics.ejectedSessions.inc({ backend: backend.address }, backend.activeSessions);
    this.#log.warn({ event: 'backend_ejected', backend: backend.address, sessions: backend.activeSessions, reason },
      `closing ${backend.activeSessions} sessions of ${backend.address}: ${REASONS[reason].text}`);
  }

  #updatePanic(): void {
    const panic = this.#availability.update(this.backends.map((b) => b.state.kind)) === 'panic';
    if (panic === this.#panic) return;
    this.#panic = panic;
    this.#metrics.panic.set(panic ? 1 : 0);
    const now = this.#now();
    if (panic) {
      this.#panicSince = now;
      return;
    }
    // Out of panic: sessions held on backends that strand them (etcd out of reach) move after
    // a grace time that grows with the outage, unless those recover first (after an etcd outage
    // they all do, one by one as their etcd clients redial).
    const outageMs = now - this.#panicSince;
    for (const backend of this.#backends.values()) {
      const graceMs = backend.armStrandTimer(outageMs);
      if (graceMs === undefined || backend.activeSessions === 0) continue;
      this.#log.info({ event: 'backend_stranded_hold', backend: backend.address, sessions: backend.activeSessions,
        graceMs: Math.round(graceMs), outageMs: Math.round(outageMs) },
        `${backend.activeSessions} sessions of ${backend.address} wait up to ${(graceMs / 1000).toFixed(1)} s for it to recover ` +
        `from the ${(outageMs / 1000).toFixed(1)} s outage before they move`);
    }
  }

  /** Stops the checkers. Sessions are closed by their listener's owner. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const checker of this.#checkers.values()) checker.stop();
    for (const backend of this.#backends.values()) backend.close();
  }
}
