import type { Connections } from './connections.js';

/**
 * Where the imitated process is in its life, and the faults that move it (reference §3, (a)
 * 12-14 and 18). One state at a time; `revive()` brings any of them back to `serving` on the
 * same port.
 */
export type LifecycleState =
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
   * Close idle HTTP/1.1 keep-alive connections when the listener closes, as Go's
   * Server.Shutdown does. Off by default so that requests on old connections see the 503.
   */
  readonly closeIdleHttp1?: boolean;
}

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
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Owns the lifecycle state and the shutdown timers. The request handler asks it for the
 * state and tells it when in-flight requests finish; faults are its methods.
 */
export class Lifecycle {
  #state: LifecycleState = { kind: 'serving' };
  #timers = new Set<NodeJS.Timeout>();
  #steps: { notAccepting: Deferred; listenerClosed: Deferred; stopped: Deferred } | null = null;
  #drainCheck: (() => void) | null = null;

  constructor(readonly connections: Connections, readonly inFlight: () => number) {}

  get state(): LifecycleState {
    return this.#state;
  }

  /** Starts a graceful shutdown (SIGTERM); a second call returns the same progress. */
  shutdown(options: ShutdownOptions = {}): ShutdownProgress {
    if (this.#steps && this.#state.kind !== 'serving') return this.#progress(this.#steps);
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
        if (options.closeIdleHttp1) this.connections.closeIdleHttp1();
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
    this.#state = { kind: 'crashed' };
    this.connections.closeListener();
    this.connections.setHeld(false);
    this.connections.resetAll();
  }

  /** SIGSTOP: nothing is answered on new or existing connections; connects still complete. */
  async blackhole(host: string, port: number): Promise<void> {
    this.#cancelShutdown();
    this.#state = { kind: 'blackholed' };
    this.connections.setHeld(true);
    await this.connections.listen(host, port);
  }

  /** Back to `serving` on the same address; held connections go on where they stopped. */
  async revive(host: string, port: number): Promise<void> {
    this.#cancelShutdown();
    this.#state = { kind: 'serving' };
    this.connections.setHeld(false);
    await this.connections.listen(host, port);
  }

  /** Clears every timer (the server is closing). */
  close(): void {
    this.#cancelShutdown();
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
