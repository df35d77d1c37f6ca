/**
 * The apiserver's view of etcd (reference part A, item 1). Two probes stand in for the
 * `etcd` check (shared by /livez, /readyz and /healthz) and the readyz-only `etcd-readiness`
 * check (apiserver storagebackend/factory/etcd3.go newETCD3Check): each sends a GET to etcd
 * with its own timeout (DefaultHealthcheckTimeout, DefaultReadinessTimeout: 2 s), at most
 * one every timeout/2 (a rate.Limiter with a burst of one); a call the limiter refuses
 * answers at once with the result of the last probe *sent*. etcd refused or blackholed both
 * cost the whole timeout. Requests that must read etcd (quorum reads) or write it wait until
 * their deadline while etcd is down, then fail as the timeout filter answers them.
 */

/** The error the etcd checks report when their GET did not come back in time. */
export const ETCD_ERROR = 'error getting data from etcd: context deadline exceeded';

/** `storagebackend.DefaultHealthcheckTimeout` and `DefaultReadinessTimeout`. */
export const DEFAULT_ETCD_CHECK_TIMEOUT_MS = 2_000;

/** `--request-timeout`: the deadline of a request that did not ask for a shorter one. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** Whether etcd answers, and a way to wait for either a change or a deadline. */
export class EtcdLink {
  #up = true;
  #waiters = new Set<() => void>();

  get up(): boolean {
    return this.#up;
  }

  set(up: boolean): void {
    this.#up = up;
    if (up) for (const wake of [...this.#waiters]) wake();
  }

  /**
   * Resolves true as soon as etcd is up, false when `sleep` (the server's cancellable delay)
   * ends first. A GET in flight when etcd comes back succeeds: the client reconnects.
   */
  async waitUp(sleep: Promise<void>): Promise<boolean> {
    if (this.#up) return true;
    let wake: () => void = () => undefined;
    const woken = new Promise<boolean>((resolve) => (wake = () => resolve(true)));
    this.#waiters.add(wake);
    try {
      return await Promise.race([woken, sleep.then(() => this.#up)]);
    } finally {
      this.#waiters.delete(wake);
    }
  }
}

/** One of the two etcd health checks: see the file comment. */
export class EtcdProbe {
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #last: { error: string | null; at: number } = { error: 'etcd client connection not yet established', at: Number.NEGATIVE_INFINITY };

  constructor(
    readonly link: EtcdLink,
    readonly timeoutMs: number,
    readonly sleep: (ms: number) => Promise<void>,
    readonly now: () => number = Date.now,
  ) {}

  /** The check's error, or null when etcd answered. */
  async run(): Promise<string | null> {
    const sentAt = this.now();
    // rate.Every(timeout/2) with burst 1: one token, refilled after timeout/2.
    if (sentAt - this.#lastSentAt < this.timeoutMs / 2) return this.#last.error;
    this.#lastSentAt = sentAt;
    const up = this.link.up || (await this.link.waitUp(this.sleep(this.timeoutMs)));
    const error = up ? null : ETCD_ERROR;
    // atomicLastError keeps the result of the probe sent last, not the one that came back last.
    if (sentAt >= this.#last.at) this.#last = { error, at: sentAt };
    return error;
  }
}

/**
 * A Go duration (`10s`, `1m0s`, `1.5s`, `250ms`) in milliseconds, as the `timeout` query
 * parameter of a request carries it; undefined when it is not one.
 */
export function parseGoDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, value, , suffix] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(value) * (unit[suffix ?? 's'] ?? 0);
  return total;
}
