import type { KubernetesEndpoints } from './endpoints.js';

/**
 * `--endpoint-reconciler-type=lease` (K pkg/controlplane/reconcilers/lease.go): every
 * apiserver that is ready holds a lease (TTL 15 s) on its advertise address, renews it every
 * 10 s and, each time, rewrites the `kubernetes` endpoints to the addresses whose lease has
 * not expired. A crashed apiserver stops renewing: it leaves the list at the first reconcile of
 * another apiserver after its lease expired, 15-25 s after it died. A gracefully stopping one
 * removes itself at once (the pre-shutdown hook, before its listener closes). Share one
 * instance among the imitations of a cluster, like their {@link KubernetesEndpoints}.
 * `master-count` is not modelled: without a reconciler, nothing removes a dead apiserver.
 */
export class LeaseReconciler {
  readonly intervalMs: number;
  readonly ttlMs: number;
  readonly #leases = new Map<string, number>();
  readonly #members = new Map<string, NodeJS.Timeout>();
  readonly #now: () => number;

  constructor(readonly endpoints: KubernetesEndpoints, readonly port: number,
    o: { intervalMs?: number; ttlMs?: number; now?: () => number } = {}) {
    this.intervalMs = o.intervalMs ?? 10_000;
    this.ttlMs = o.ttlMs ?? 15_000;
    this.#now = o.now ?? Date.now;
  }

  /** The apiserver at `ip` became ready: it takes its lease now and keeps renewing it. */
  join(ip: string): void {
    this.stop(ip);
    const tick = (): void => {
      this.#leases.set(ip, this.#now() + this.ttlMs);
      this.reconcile();
    };
    tick();
    this.#members.set(ip, setInterval(tick, this.intervalMs));
  }

  /** Graceful shutdown: the lease is deleted and the endpoints rewritten at once. */
  leave(ip: string): void {
    this.stop(ip);
    this.#leases.delete(ip);
    this.reconcile();
  }

  /** The apiserver died or froze: it renews nothing more; its lease runs out by itself. */
  stop(ip: string): void {
    clearInterval(this.#members.get(ip));
    this.#members.delete(ip);
  }

  /** Rewrites the endpoints to the unexpired leases when they differ (sorted, as the reconciler lists them). */
  reconcile(): void {
    const now = this.#now();
    for (const [ip, expires] of this.#leases) if (expires <= now) this.#leases.delete(ip);
    const live = [...this.#leases.keys()].sort();
    const current = this.endpoints.addresses;
    if (current.length === live.length && current.every((ip, i) => ip === live[i]) && this.endpoints.get('endpointslices')) return;
    this.endpoints.set(live, this.port);
  }

  /** Stops every renewal timer. */
  close(): void {
    for (const ip of [...this.#members.keys()]) this.stop(ip);
  }
}
