import type { BackendConfig } from '../config/schema.js';
import { REASONS, type Reason, verdictOf } from '../health/verdict.js';
import { ejectDelays } from './eject-spread.js';
import type { IdleState } from './rebalance.js';
import { type BackendState, type Streak, type Thresholds, ejectsOnDown, isGood, nextState, nextStreak, rampAt, sessionFailureStreak, strandGraceMs, strandsSessions } from './transitions.js';

/** What a backend needs of a session: to be told its backend went away. */
export interface BackendSession {
  /** The backend went down: move elsewhere if not yet answered, otherwise close with RST. */
  onBackendDown(backend: Backend, reason: Reason): void;
  /** The drain timeout passed: close. */
  onDrainTimeout(backend: Backend): void;
  /** Adds the bytes moved since the last call to the backend's totals. */
  flushBytes(): void;
  /** Past the point where it could move by replay: an eject closes it (at a random moment of the spread). */
  readonly pinned: boolean;
  /** Traffic so far, for the quiet rule of rebalancing. */
  idleState(): IdleState;
  /** Close it so that the client redials a less loaded backend (it was found quiet). */
  onRebalance(): void;
}

export interface Transition {
  backend: Backend;
  from: BackendState;
  to: BackendState;
  reason: Reason;
  /** The sessions are closed next (eject), so that their clients redial elsewhere. */
  ejects: boolean;
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
  #priority: number;
  #weight: number;
  readonly #sessions = new Set<BackendSession>();
  #established = 0;
  #bytesUp = 0;
  #bytesDown = 0;
  #state: BackendState;
  #streak: Streak = { good: 0, bad: 0 };
  #suspectSince: number | undefined;
  #lastCheck: LastCheck | undefined;
  #authorized = true;
  #drainTimer: NodeJS.Timeout | undefined;
  #strandTimer: NodeJS.Timeout | undefined;
  /** Pending closes of an eject spread over a window. */
  readonly #ejectTimers = new Set<NodeJS.Timeout>();
  /** When it last passed a check: the fault of a down backend came after this. */
  #lastGoodAt: number | undefined;
  #removed = false;

  constructor(
    spec: BackendConfig,
    private readonly thresholds: () => Thresholds & { drainTimeoutMs: number; strandGraceMs: number; ejectSpreadMs: number },
    private readonly onTransition: (t: Transition) => void,
    now: number,
    /** True while no other backend can take this one's sessions (panic): they are not closed. */
    private readonly holdDrained: () => boolean = () => false,
    /**
     * Its sessions have been stranded (see `strandsSessions`) for the grace time while another
     * backend can take them: the owner moves them (logs, then `eject`).
     */
    private readonly onStranded: (backend: Backend, reason: Reason) => void = () => undefined,
    /** Picks the moments of a spread eject (eject-spread.ts). */
    private readonly random: () => number = Math.random,
  ) {
    this.address = spec.address;
    this.host = spec.host;
    this.port = spec.port;
    this.#priority = spec.priority;
    this.#weight = spec.weight;
    this.#state = { kind: 'unknown', since: now };
  }

  get priority(): number {
    return this.#priority;
  }
  get weight(): number {
    return this.#weight;
  }
  /** The sessions on this backend now; they come and go through `attach` and `detach`. */
  get sessions(): ReadonlySet<BackendSession> {
    return this.#sessions;
  }
  /** Sessions that got their first byte from this backend, since start. */
  get established(): number {
    return this.#established;
  }
  /** Bytes of closed sessions and flushed ones of open sessions, since start. */
  get bytesUp(): number {
    return this.#bytesUp;
  }
  get bytesDown(): number {
    return this.#bytesDown;
  }
  get state(): BackendState {
    return this.#state;
  }
  get streak(): Streak {
    return this.#streak;
  }
  get activeSessions(): number {
    return this.#sessions.size;
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
    return rampAt(this.#state, this.thresholds().slowStartMs, now);
  }

  /** The configuration changed this backend's priority or weight. */
  reconfigure(spec: Pick<BackendConfig, 'priority' | 'weight'>): void {
    this.#priority = spec.priority;
    this.#weight = spec.weight;
  }

  /** A session now uses this backend: it is ejected or drained with it. */
  attach(session: BackendSession): void {
    this.#sessions.add(session);
  }

  /** A session left this backend (closed, or moved to another before it answered). */
  detach(session: BackendSession): void {
    this.#sessions.delete(session);
  }

  /** Bytes a session moved since it last reported, added to this backend's totals. */
  addBytes(up: number, down: number): void {
    this.#bytesUp += up;
    this.#bytesDown += down;
  }

  /** A verdict of an active check. Returns the authorization change, if any, for logging. */
  recordCheck(check: LastCheck): { authorizedChanged: boolean } {
    this.#lastCheck = check;
    const verdict = verdictOf(check.reason);
    const wasAuthorized = this.#authorized;
    // refused_here is a 401/403 too, read as "not ready" because other backends accept the credential.
    if (verdict === 'unauthorized' || check.reason === 'refused_here') this.#authorized = false;
    else if (verdict === 'pass') this.#authorized = true;
    // A bad verdict makes the backend suspect at once: from an apiserver's first 500 (graceful
    // shutdown) it gets new sessions only if nothing else can take them, before `fall` confirms.
    if (isGood(verdict)) {
      this.#suspectSince = undefined;
      this.#lastGoodAt = check.at;
    } else {
      this.#suspectSince ??= check.at;
    }
    this.#streak = nextStreak(this.#streak, verdict);
    // The check started at `at`; what follows it (an eject's window) starts when it ended.
    this.#apply(check.reason, check.at, check.at + check.durationMs);
    // Draining and down say more than suspect: selection takes them only in panic, or never.
    if (this.#state.kind === 'down' || this.#state.kind === 'draining') this.#suspectSince = undefined;
    return { authorizedChanged: wasAuthorized !== this.#authorized };
  }

  /**
   * A session failed to reach this backend (refused, connect timeout, no first byte): suspect
   * until a check or a session proves otherwise (`sessionFailureStreak` says how it counts).
   */
  recordSessionFailure(reason: Reason, now: number): void {
    this.#suspectSince ??= now;
    this.#streak = sessionFailureStreak(this.#streak, reason, this.thresholds().fall);
  }

  /**
   * A session got its first byte from this backend: it counts as established, and whatever made
   * the backend suspect has passed.
   */
  recordSessionSuccess(): void {
    this.#established++;
    this.#suspectSince = undefined;
  }

  #apply(reason: Reason, at: number, now: number): void {
    const from = this.#state;
    const to = nextState(from, this.#streak, reason, this.thresholds(), at);
    if (to === from) return;
    this.#state = to;
    this.#streak = { good: 0, bad: 0 };
    const ejects = this.#sessions.size > 0 && to.kind === 'down' && ejectsOnDown(reason);
    this.onTransition({ backend: this, from, to, reason, ejects });
    // Down by silence: the fault came after the last good check, so the spread window ends
    // `ejectSpreadMs` after it and detection eats into it.
    if (ejects) this.eject(reason, now, this.#lastGoodAt);
    else this.#afterTransition(to.kind);
  }

  /**
   * Draining for a reason that strands its sessions: they are moved after a grace time, unless
   * the backend recovers first. The grace lets the checks of the other backends see the same
   * fault first: under an etcd outage every apiserver turns slow within about one interval, and
   * then panic keeps every session where it is. `sharedOutageMs`: how long the node was in
   * panic, when this follows its end (see `strandGraceMs`). Returns the grace, if a timer was set.
   */
  armStrandTimer(sharedOutageMs = 0): number | undefined {
    this.#clearStrandTimer();
    const s = this.#state;
    if (s.kind !== 'draining' || !strandsSessions(s.reason)) return undefined;
    const t = this.thresholds();
    const graceMs = strandGraceMs(t.strandGraceMs, sharedOutageMs, t.drainTimeoutMs);
    this.#strandTimer = setTimeout(() => {
      this.#strandTimer = undefined;
      const now = this.#state;
      if (now.kind !== 'draining' || !strandsSessions(now.reason) || this.#sessions.size === 0 || this.holdDrained()) return;
      this.onStranded(this, now.reason);
    }, graceMs);
    this.#strandTimer.unref();
    return graceMs;
  }

  /**
   * Closes every session (RST): their clients redial, and the pool sends them elsewhere. Sessions
   * not yet answered move to another backend at once (replay); pinned ones are closed at random
   * moments up to `ejectSpreadMs` after `windowFrom` (eject-spread.ts), so that a fleet's
   * reconnects reach the other apiservers spread out. `windowFrom` is when the backend was last
   * seen working for a backend down by silence; for stranded sessions it is the moment of the
   * move (`now`, the default): the grace time has passed, and the spread follows it.
   */
  eject(reason: Reason, now: number, windowFrom: number | undefined = now): void {
    this.#clearDrainTimer();
    this.#clearStrandTimer();
    const sessions = [...this.#sessions];
    const pinned = sessions.filter((s) => s.pinned);
    for (const session of sessions) if (!session.pinned) session.onBackendDown(this, reason);
    const delays = ejectDelays({ count: pinned.length, now, lastGoodAt: windowFrom, spreadMs: this.thresholds().ejectSpreadMs, random: this.random });
    pinned.forEach((session, i) => {
      const delay = delays[i] ?? 0;
      if (delay === 0) {
        session.onBackendDown(this, reason);
        return;
      }
      const timer = setTimeout(() => {
        this.#ejectTimers.delete(timer);
        session.onBackendDown(this, reason);
      }, delay);
      this.#ejectTimers.add(timer);
    });
  }

  #clearEjectTimers(): void {
    for (const timer of this.#ejectTimers) clearTimeout(timer);
    this.#ejectTimers.clear();
  }

  #clearStrandTimer(): void {
    if (this.#strandTimer !== undefined) clearTimeout(this.#strandTimer);
    this.#strandTimer = undefined;
  }

  #afterTransition(kind: BackendState['kind']): void {
    if (kind === 'draining') this.armStrandTimer();
    else this.#clearStrandTimer();
    // Back up while a spread eject was under way: the sessions not yet closed may stay.
    if (kind === 'up') this.#clearEjectTimers();
    if (kind === 'draining' || kind === 'down') {
      // Down by refusal: the sessions end when the apiserver ends them, or at the drain timeout.
      if (this.#drainTimer === undefined && this.#sessions.size > 0) this.#startDrainTimer();
    } else {
      this.#clearDrainTimer();
    }
  }

  /** After the drain timeout, the sessions still open are closed. */
  #startDrainTimer(): void {
    this.#clearDrainTimer();
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      // In panic every backend is draining: closing would only move a session to another one.
      if (this.holdDrained()) return this.#startDrainTimer();
      for (const session of [...this.#sessions]) session.onDrainTimeout(this);
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
    if (this.#sessions.size > 0) this.#startDrainTimer();
  }

  close(): void {
    this.#clearDrainTimer();
    this.#clearStrandTimer();
    this.#clearEjectTimers();
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
