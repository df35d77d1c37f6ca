import type { BackendConfig } from '../config/schema.js';
import { REASONS, type Reason, verdictOf } from '../health/verdict.js';
import { type BackendState, type Streak, type Thresholds, nextState, nextStreak } from './transitions.js';

/** What a backend needs of a session: to be told its backend went away. */
export interface BackendSession {
  /** The backend went down: move elsewhere if not yet answered, otherwise close with RST. */
  onBackendDown(backend: Backend, reason: Reason): void;
  /** The drain timeout passed: close. */
  onDrainTimeout(backend: Backend): void;
  /** Adds the bytes moved since the last call to the backend's totals. */
  flushBytes(): void;
}

export interface Transition {
  backend: Backend;
  from: BackendState;
  to: BackendState;
  reason: Reason;
}

/** The last check as `/backends` and the logs show it. */
export interface LastCheck {
  at: number;
  reason: Reason;
  durationMs: number;
  /** HTTP status, when the backend answered. */
  status: number | undefined;
}

/**
 * One apiserver address and everything known about it: its state, the verdict streak, and the
 * set of its sessions (so ejecting is one call). Only Backend assigns its state. A transition is
 * applied first, then announced, then acted on (eject), so a closing session that asks the pool
 * for a new backend already sees this one as down.
 */
export class Backend {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  priority: number;
  weight: number;
  readonly sessions = new Set<BackendSession>();
  /** Sessions that got their first byte from this backend, since start. */
  established = 0;
  /** Bytes of closed sessions and flushed ones of open sessions, since start. */
  bytesUp = 0;
  bytesDown = 0;
  #state: BackendState;
  #streak: Streak = { good: 0, bad: 0 };
  #suspectSince: number | undefined;
  #lastCheck: LastCheck | undefined;
  #authorized = true;
  #drainTimer: NodeJS.Timeout | undefined;
  #removed = false;

  constructor(
    spec: BackendConfig,
    private readonly thresholds: () => Thresholds & { drainTimeoutMs: number },
    private readonly onTransition: (t: Transition) => void,
    now: number,
  ) {
    this.address = spec.address;
    this.host = spec.host;
    this.port = spec.port;
    this.priority = spec.priority;
    this.weight = spec.weight;
    this.#state = { kind: 'unknown', since: now };
  }

  get state(): BackendState {
    return this.#state;
  }
  get streak(): Streak {
    return this.#streak;
  }
  get activeSessions(): number {
    return this.sessions.size;
  }
  get suspect(): boolean {
    return this.#suspectSince !== undefined;
  }
  get lastCheck(): LastCheck | undefined {
    return this.#lastCheck;
  }
  get authorized(): boolean {
    return this.#authorized;
  }
  get removed(): boolean {
    return this.#removed;
  }

  /** 0..1 share of new sessions during slow start after a recovery. */
  rampAt(now: number): number {
    const s = this.#state;
    if (s.kind !== 'up' || now >= s.slowStartEndsAt) return 1;
    const total = this.thresholds().slowStartMs;
    if (total <= 0) return 1;
    // Never 0: a fresh backend must get some sessions to prove itself.
    return Math.max(0.05, 1 - (s.slowStartEndsAt - now) / total);
  }

  /** A verdict of an active check. Returns the authorization change, if any, for logging. */
  recordCheck(check: LastCheck): { authorizedChanged: boolean } {
    this.#lastCheck = check;
    const verdict = verdictOf(check.reason);
    const wasAuthorized = this.#authorized;
    if (verdict === 'unauthorized') this.#authorized = false;
    else if (verdict === 'pass') this.#authorized = true;
    if (verdict === 'pass' || verdict === 'unauthorized') this.#suspectSince = undefined;
    this.#streak = nextStreak(this.#streak, verdict);
    this.#apply(check.reason, check.at);
    return { authorizedChanged: wasAuthorized !== this.#authorized };
  }

  /**
   * A session failed to reach this backend (refused, connect timeout, no first byte). It counts as
   * one unreachable verdict, but never as the last one of `fall`: the immediate check that the
   * pool starts next decides. So two slow handshakes on a loaded but live apiserver cannot eject
   * every session of it, while a dead one is confirmed within one check timeout.
   */
  recordSessionFailure(reason: Reason, now: number): void {
    this.#suspectSince ??= now;
    const { fall } = this.thresholds();
    if (this.#streak.bad + 1 < fall) this.#streak = nextStreak(this.#streak, verdictOf(reason));
  }

  /** A session got its first byte from this backend: whatever made it suspect has passed. */
  recordSessionSuccess(): void {
    this.#suspectSince = undefined;
  }

  #apply(reason: Reason, now: number): void {
    const from = this.#state;
    const to = nextState(from, this.#streak, reason, this.thresholds(), now);
    if (to === from) return;
    this.#state = to;
    this.#streak = { good: 0, bad: 0 };
    this.onTransition({ backend: this, from, to, reason });
    this.#afterTransition(to.kind, reason);
  }

  #afterTransition(kind: BackendState['kind'], reason: Reason): void {
    if (kind !== 'draining') this.#clearDrainTimer();
    if (kind === 'down') {
      for (const session of [...this.sessions]) session.onBackendDown(this, reason);
    } else if (kind === 'draining' && this.#drainTimer === undefined) {
      this.#startDrainTimer();
    }
  }

  /** After the drain timeout, the sessions still open are closed. */
  #startDrainTimer(): void {
    this.#clearDrainTimer();
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      for (const session of [...this.sessions]) session.onDrainTimeout(this);
    }, this.thresholds().drainTimeoutMs);
    this.#drainTimer.unref();
  }

  /**
   * The backend left the configuration. Its sessions are drained (kept until the drain timeout),
   * not cut, unless it is down.
   */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    if (this.sessions.size > 0) this.#startDrainTimer();
  }

  close(): void {
    this.#clearDrainTimer();
  }

  #clearDrainTimer(): void {
    if (this.#drainTimer !== undefined) clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
  }

  describe(): string {
    const s = this.#state;
    return s.kind === 'down' || s.kind === 'draining' ? `${s.kind}: ${REASONS[s.reason].text}` : s.kind;
  }
}
