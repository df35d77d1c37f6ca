import { randomUUID } from 'node:crypto';
import { isIPv6 } from 'node:net';

/**
 * The `kubernetes` Service's endpoints as kube-apiserver's endpoint reconciler keeps them
 * (reference §4, reconcilers/endpointsadapter.go): EndpointSlice `default/kubernetes`, label
 * `kubernetes.io/service-name=kubernetes`, every endpoint `ready: true` unless told otherwise,
 * port `https`; and Endpoints `default/kubernetes`, label
 * `endpointslice.kubernetes.io/skip-mirror=true`, one subset. Each change is two writes (slice,
 * then Endpoints), each with its own resourceVersion, kept in a bounded history standing in for
 * the watch cache. Pass one instance to several imitations to have them share it, as apiservers
 * share etcd. Tests set what is advertised, or let a {@link LeaseReconciler} (reconciler.ts)
 * do it; without one a dead apiserver stays listed until the test removes it, as with
 * `--endpoint-reconciler-type=master-count`. As endpoint validation does, loopback and
 * link-local addresses are refused unless the instance is made to accept them (tests that
 * put apiservers on loopback addresses must say so).
 */

export type EndpointsResource = 'endpointslices' | 'endpoints';

/** One advertised address; `ready: false` imitates an endpoint another writer marked not ready. */
export interface AdvertisedEndpoint {
  readonly ip: string;
  readonly ready?: boolean;
}

/** An object as JSON (kind, apiVersion, metadata, then the kind's own fields). */
export type ApiObject = { kind: string; apiVersion: string; metadata: ObjectMeta } & Record<string, unknown>;

interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  creationTimestamp: string;
  labels: Record<string, string>;
}

/** One change, with the resourceVersion it produced. */
export interface EndpointsEvent {
  readonly resource: EndpointsResource;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: ApiObject;
  readonly resourceVersion: number;
}

/** What a watcher is told: a change, or that its history is gone (it must relist). */
export type EndpointsNotice = { kind: 'change'; event: EndpointsEvent } | { kind: 'expire' };

export const GROUP_VERSION: Record<EndpointsResource, { kind: string; apiVersion: string }> = {
  endpointslices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' },
  endpoints: { kind: 'Endpoints', apiVersion: 'v1' },
};

/** See the file comment. */
export class KubernetesEndpoints {
  #resourceVersion: number;
  #oldest: number;
  #objects = new Map<EndpointsResource, ApiObject>();
  #history: EndpointsEvent[] = [];
  #subscribers = new Set<(notice: EndpointsNotice) => void>();

  readonly #acceptLoopback: boolean;

  /**
   * `historyLimit`: how many changes a watch can resume across before it gets 410.
   * `acceptLoopback`: list 127.x, ::1 and link-local addresses, which a real apiserver's
   * validation refuses (default false).
   */
  constructor(readonly historyLimit = 100, startResourceVersion = 5000, o: { acceptLoopback?: boolean } = {}) {
    this.#resourceVersion = startResourceVersion;
    this.#oldest = startResourceVersion;
    this.#acceptLoopback = o.acceptLoopback ?? false;
  }

  /** The addresses the EndpointSlice lists now, in its order. */
  get addresses(): string[] {
    const slice = this.#objects.get('endpointslices');
    const endpoints = (slice?.['endpoints'] ?? []) as { addresses: string[] }[];
    return endpoints.flatMap((e) => e.addresses);
  }

  /** The newest resourceVersion (a LIST's metadata.resourceVersion). */
  get resourceVersion(): number {
    return this.#resourceVersion;
  }

  get oldestResourceVersion(): number {
    return this.#oldest;
  }

  /**
   * Advertises `endpoints` (IPs, all of one family) on `port`: the slice and the Endpoints are
   * created (ADDED) or rewritten (MODIFIED). An empty list leaves a slice with no endpoints and
   * an Endpoints with no subsets.
   */
  set(endpoints: readonly (string | AdvertisedEndpoint)[], port: number): void {
    const list = endpoints.map((e) => (typeof e === 'string' ? { ip: e, ready: true } : { ip: e.ip, ready: e.ready ?? true }));
    if (!this.#acceptLoopback) {
      list.forEach((e, i) => {
        const refused = refusedRange(e.ip);
        if (refused) throw new Error(`Endpoints "kubernetes" is invalid: subsets[0].addresses[${i}].ip: Invalid value: ${JSON.stringify(e.ip)}: may not be in the ${refused}`);
      });
    }
    const addressType = list.some((e) => isIPv6(e.ip)) ? 'IPv6' : 'IPv4';
    const ports = [{ name: 'https', protocol: 'TCP', port }];
    this.#write('endpointslices', (meta) => ({
      ...GROUP_VERSION.endpointslices,
      metadata: { ...meta, labels: { 'kubernetes.io/service-name': 'kubernetes' } },
      addressType,
      endpoints: list.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready } })),
      ports,
    }));
    const ready = list.filter((e) => e.ready).map((e) => ({ ip: e.ip }));
    const notReady = list.filter((e) => !e.ready).map((e) => ({ ip: e.ip }));
    const subset = { ...(ready.length ? { addresses: ready } : {}), ...(notReady.length ? { notReadyAddresses: notReady } : {}), ports: [{ name: 'https', port, protocol: 'TCP' }] };
    this.#write('endpoints', (meta) => ({
      ...GROUP_VERSION.endpoints,
      metadata: { ...meta, labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      ...(list.length ? { subsets: [subset] } : {}),
    }));
  }

  /** Deletes both objects (DELETED), as an operator's `kubectl delete` would. */
  remove(): void {
    for (const resource of ['endpointslices', 'endpoints'] as const) {
      const current = this.#objects.get(resource);
      if (!current) continue;
      this.#objects.delete(resource);
      this.#commit(resource, 'DELETED', structuredClone(current));
    }
  }

  /** The object of `resource`, if it exists. */
  get(resource: EndpointsResource): ApiObject | undefined {
    const object = this.#objects.get(resource);
    return object && structuredClone(object);
  }

  /** The changes of `resource` after `resourceVersion`, or `expired` when the history no longer reaches it. */
  eventsSince(resource: EndpointsResource, resourceVersion: number): EndpointsEvent[] | 'expired' {
    if (resourceVersion < this.#oldest) return 'expired';
    return this.#history.filter((e) => e.resource === resource && e.resourceVersion > resourceVersion);
  }

  /** Forgets the history, as an etcd compaction does: watches from older versions get 410. */
  compact(): void {
    this.#history = [];
    this.#oldest = this.#resourceVersion;
  }

  /**
   * Compacts, and ends every open watch with an ERROR 410 event, as the watch cache does to a
   * watcher that fell too far behind: each must list again.
   */
  expireWatches(): void {
    this.compact();
    for (const listener of [...this.#subscribers]) listener({ kind: 'expire' });
  }

  /** Calls `listener` for every later change; returns the function that stops it. */
  subscribe(listener: (notice: EndpointsNotice) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  #write(resource: EndpointsResource, build: (meta: Omit<ObjectMeta, 'labels'>) => ApiObject): void {
    const current = this.#objects.get(resource);
    const meta = {
      name: 'kubernetes',
      namespace: 'default',
      uid: current?.metadata.uid ?? randomUUID(),
      resourceVersion: '',
      ...(resource === 'endpointslices' ? { generation: (current?.metadata.generation ?? 0) + 1 } : {}),
      creationTimestamp: current?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    const object = build(meta);
    this.#objects.set(resource, object);
    this.#commit(resource, current ? 'MODIFIED' : 'ADDED', object);
  }

  #commit(resource: EndpointsResource, type: EndpointsEvent['type'], object: ApiObject): void {
    this.#resourceVersion += 1;
    object.metadata.resourceVersion = String(this.#resourceVersion);
    const event: EndpointsEvent = { resource, type, object: structuredClone(object), resourceVersion: this.#resourceVersion };
    this.#history.push(event);
    if (this.#history.length > this.historyLimit) {
      const dropped = this.#history.shift();
      if (dropped) this.#oldest = dropped.resourceVersion;
    }
    for (const listener of [...this.#subscribers]) listener({ kind: 'change', event });
  }
}

/** The range endpoint validation refuses `ip` for (ValidateNonSpecialIP), or undefined. */
function refusedRange(ip: string): string | undefined {
  const v4 = /^(\d+)\.(\d+)\./.exec(ip);
  if (v4) {
    if (v4[1] === '127') return 'loopback range (127.0.0.0/8, ::1/128)';
    if (v4[1] === '169' && v4[2] === '254') return 'link-local range (169.254.0.0/16, fe80::/10)';
    if (v4[1] === '0') return 'unspecified range (0.0.0.0/8)';
    return undefined;
  }
  const lower = ip.toLowerCase();
  if (lower === '::1') return 'loopback range (127.0.0.0/8, ::1/128)';
  if (/^fe[89ab]/.test(lower)) return 'link-local range (169.254.0.0/16, fe80::/10)';
  if (lower === '::') return 'unspecified range (0.0.0.0/8)';
  return undefined;
}
