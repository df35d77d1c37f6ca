import type { Connections } from './connections.js';

/**
 * Where the imitated process is in its life, and the faults that move it (reference §3, (a)
 * 12-14 and 18). One state at a time; `revive()` brings any of them back to `serving` on the
 * same port.
 */
export type LifecycleState =
  /**
   * Listening, post-start hooks running (reference part A, item 3). `rbac`: the RBAC
   * informers have not synced, every request outside system:masters gets 403; `hooks`:
   * authorization works, /readyz (and /livez) fail through the unfinished hooks.
   */
  | { kind: 'starting'; phase: 'rbac' | 'hooks' }
  /** Answers everything. */
  | { kind: 'serving' }
  /** SIGTERM received: /readyz fails through `shutdown`, everything else is still served. */
  | { kind: 'shutdown-delay'; sendRetryAfter: boolean }
  /**
   * NotAcceptingNewRequest: by default the listener is closed, HTTP/2 sessions got GOAWAY and
   * requests still arriving on old connections get 503; with send-retry-after the listener
   * stays open and non-exempt requests get 429 until in-flight requests drained.
   */
  | { kind: 'not-accepting'; sendRetryAfter: boolean }
  /** The process is gone after a graceful shutdown: listener closed, connections closed. */
  | { kind: 'stopped' }
  /** Killed: every connection reset, listener closed. */
  | { kind: 'crashed' }
  /** SIGSTOPped: connects complete in the kernel, nothing is ever answered. */
  | { kind: 'blackholed' };

/** Options of a graceful shutdown. */
export interface ShutdownOptions {
  /** `--shutdown-delay-duration`: how long /readyz fails while traffic is still served. */
  readonly shutdownDelayMs?: number;
  /** `--shutdown-send-retry-after`: keep listening and answer 429 until in-flight requests drain. */
  readonly sendRetryAfter?: boolean;
  /** Bound on the drain before every connection is closed (Go: 60 s request timeout, or 2 s with send-retry-after). */
  readonly hardCloseAfterMs?: number;
  /**
   * Go's Server.Shutdown closes idle HTTP/1.1 keep-alive connections when the listener
   * closes, and busy ones once their response is written (default true, as the apiserver
   * always does). False keeps them open, to imitate a request that raced the close on an old
   * connection and met the 503.
   */
  readonly closeIdleHttp1?: boolean;
}

/** How long a (re)started apiserver takes to become ready once it listens. */
export interface StartupTiming {
  /** 403 to everyone outside system:masters (RBAC informers not synced). */
  readonly forbiddenMs: number;
  /** Then /readyz 500 with `informer-sync` and post-start hooks failing. */
  readonly notReadyMs: number;
}

/**
 * Default start-up, shaped like a kube-apiserver on a 2-core control-plane node with a small
 * etcd: RBAC's informers sync about 1 s after the secure port opens, the post-start hooks
 * (bootstrap roles and priority classes, APIService controllers, CRD informers) finish about
 * 4 s later, so /readyz turns 200 about 5 s after the listener opened. These are estimates
 * from published apiserver logs, not measurements on this machine.
 */
export const REAL_STARTUP: StartupTiming = { forbiddenMs: 1_000, notReadyMs: 4_000 };

/** The steps of one shutdown, each resolved when it happens (or skipped by a crash or revive). */
export interface ShutdownProgress {
  /** The delay is over: NotAcceptingNewRequest. */
  readonly notAccepting: Promise<void>;
  /** The listener is closed: new connects are refused. */
  readonly listenerClosed: Promise<void>;
  /** Every connection is closed. */
  readonly stopped: Promise<void>;
}

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly settled: boolean;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  const d = { promise, settled: false, resolve: () => { d.settled = true; resolve(); } };
  return d;
}

/**
 * Owns the lifecycle state and the shutdown timers. The request handler asks it for the
 * state and tells it when in-flight requests finish; faults are its methods.
 */
export class Lifecycle {
  #state: LifecycleState = { kind: 'serving' };
  #timers = new Set<NodeJS.Timeout>();
  #startTimers = new Set<NodeJS.Timeout>();
  #ready: Deferred = deferred();
  #steps: { notAccepting: Deferred; listenerClosed: Deferred; stopped: Deferred } | null = null;
  #drainCheck: (() => void) | null = null;

  constructor(readonly connections: Connections, readonly inFlight: () => number) {}

  get state(): LifecycleState {
    return this.#state;
  }

  /** Resolves when the current start-up is over (at once when serving). */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Whether SIGTERM was received: the `shutdown` check fails. */
  get shuttingDown(): boolean {
    return this.#state.kind === 'shutdown-delay' || this.#state.kind === 'not-accepting' || this.#state.kind === 'stopped';
  }

  /**
   * Runs the start-up phases (`instant`: straight to serving); called when the listener
   * opens, on the first start and on a restart after a crash or a stop.
   */
  begin(timing: StartupTiming | 'instant', onReady: () => void = () => undefined): void {
    this.#clearStartTimers();
    if (this.#ready.settled) this.#ready = deferred();
    const ready = (): void => {
      this.#state = { kind: 'serving' };
      this.#ready.resolve();
      onReady();
    };
    if (timing === 'instant') return ready();
    this.#state = { kind: 'starting', phase: 'rbac' };
    this.#afterStart(timing.forbiddenMs, () => {
      this.#state = { kind: 'starting', phase: 'hooks' };
      this.#afterStart(timing.notReadyMs, ready);
    });
  }
  /** Starts a graceful shutdown (SIGTERM); a second call returns the same progress. */
  shutdown(options: ShutdownOptions = {}): ShutdownProgress {
    if (this.#steps && this.shuttingDown) return this.#progress(this.#steps);
    this.#clearStartTimers();
    const sendRetryAfter = options.sendRetryAfter ?? false;
    const hardCloseAfterMs = options.hardCloseAfterMs ?? (sendRetryAfter ? 2_000 : 60_000);
    const steps = { notAccepting: deferred(), listenerClosed: deferred(), stopped: deferred() };
    this.#steps = steps;
    this.#state = { kind: 'shutdown-delay', sendRetryAfter };
    this.#after(options.shutdownDelayMs ?? 0, () => {
      this.#state = { kind: 'not-accepting', sendRetryAfter };
      steps.notAccepting.resolve();
      const stopListening = (): void => {
        this.#drainCheck = null;
        this.connections.closeListener();
        this.connections.goawayAll();
        if (options.closeIdleHttp1 ?? true) this.connections.closeIdleHttp1();
        steps.listenerClosed.resolve();
        this.#after(hardCloseAfterMs, () => this.connections.destroyAll());
        void this.connections.whenEmpty().then(() => {
          if (this.#steps !== steps) return;
          this.#clearTimers();
          this.#state = { kind: 'stopped' };
          steps.stopped.resolve();
        });
      };
      if (!sendRetryAfter) return stopListening();
      // With send-retry-after the listener stays until in-flight requests have drained.
      this.#drainCheck = () => {
        if (this.inFlight() === 0) stopListening();
      };
      this.#drainCheck();
    });
    return this.#progress(steps);
  }

  /** Called by the handler whenever a non-long-running request finishes. */
  requestFinished(): void {
    this.#drainCheck?.();
  }

  /** Killed: listener closed, every connection reset. */
  crash(): void {
    this.#cancelShutdown();
    this.#clearStartTimers();
    this.#state = { kind: 'crashed' };
    this.connections.closeListener();
    this.connections.setHeld(false);
    this.connections.resetAll();
  }

  /** SIGSTOP: nothing is answered on new or existing connections; connects still complete. */
  async blackhole(host: string, port: number): Promise<void> {
    this.#cancelShutdown();
    this.#clearStartTimers();
    this.#state = { kind: 'blackholed' };
    this.connections.setHeld(true);
    await this.connections.listen(host, port);
  }

  /**
   * Back on the same address. After SIGSTOP (blackholed) the process goes on where it stopped:
   * held connections resume, no start-up. After a crash or a stop it is a new process: the
   * listener opens and `startup` runs. A shutdown in progress is cut short like a crash.
   */
  async revive(host: string, port: number, startup: StartupTiming | 'instant', onReady?: () => void): Promise<void> {
    const resumed = this.#state.kind === 'blackholed';
    this.#cancelShutdown();
    this.connections.setHeld(false);
    this.connections.keepIdleHttp1();
    if (resumed || this.#state.kind === 'serving' || this.#state.kind === 'starting') {
      if (resumed) this.#state = { kind: 'serving' };
      await this.connections.listen(host, port);
      return;
    }
    await this.connections.listen(host, port);
    this.begin(startup, onReady);
  }

  /** Clears every timer (the server is closing). */
  close(): void {
    this.#cancelShutdown();
    this.#clearStartTimers();
  }

  #afterStart(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#startTimers.delete(timer);
      fn();
    }, ms);
    this.#startTimers.add(timer);
  }

  #clearStartTimers(): void {
    for (const timer of this.#startTimers) clearTimeout(timer);
    this.#startTimers.clear();
  }

  #progress(steps: { notAccepting: Deferred; listenerClosed: Deferred; stopped: Deferred }): ShutdownProgress {
    return { notAccepting: steps.notAccepting.promise, listenerClosed: steps.listenerClosed.promise, stopped: steps.stopped.promise };
  }

  #cancelShutdown(): void {
    this.#clearTimers();
    this.#drainCheck = null;
    const steps = this.#steps;
    this.#steps = null;
    // A shutdown cut short by a fault or a revive still settles, so nobody awaits forever.
    steps?.notAccepting.resolve();
    steps?.listenerClosed.resolve();
    steps?.stopped.resolve();
  }

  #after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #clearTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
