import type { Backend } from '../backends/backend.js';
import type { BackendConfig, DiscoveryConfig, HealthConfig } from '../config/schema.js';
import { CredentialError, type ProbeCredentials } from '../health/credentials.js';
import type { Logger } from '../log.js';
import { type ApiConnection, DISCOVERY_ERRORS, DiscoveryError, type DiscoveryErrorReason, type WatchEvent, getJson, watchJsonLines } from './api-client.js';
import { DEFAULT_BACKOFF, backoffDelay } from './backoff.js';
import { isObject } from '../json.js';
import { fromEndpointSlices, fromEndpoints, nameOf, type Reading } from './endpoints.js';
import { saveState } from './state-file.js';
import type { DiscoveryMetrics } from './metrics.js';

/** What discovery needs of the pool: a backend to ask, the credential, and where to put the answer. */
export interface DiscoveryPool {
  pick(exclude: ReadonlySet<Backend>): Backend | undefined;
  setDiscovered(list: readonly BackendConfig[]): void;
  readonly health: HealthConfig;
  probeCredentials(): Promise<ProbeCredentials>;
}

export interface DiscoveryOptions {
  pool: DiscoveryPool;
  config: DiscoveryConfig;
  log: Logger;
  metrics: DiscoveryMetrics;
  random?: () => number;
}

/** A LIST, or a WATCH's response head, must arrive within this. */
const REQUEST_TIMEOUT_MS = 10_000;

/** The two objects the `kubernetes` Service's endpoints are published as (reference §4). */
type Resource = 'endpointslices' | 'endpoints';

const COLLECTIONS: Record<Resource, string> = {
  endpointslices: `/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=${encodeURIComponent('kubernetes.io/service-name=kubernetes')}`,
  endpoints: `/api/v1/namespaces/default/endpoints?fieldSelector=${encodeURIComponent('metadata.name=kubernetes')}`,
};

// A watch asks the server to end it after 5-10 minutes, as client-go's reflector does, so that
// it moves between apiservers now and then; silence past that plus a margin is a dead connection.
const WATCH_MIN_SECONDS = 300;
const WATCH_MAX_SECONDS = 600;
const WATCH_IDLE_MARGIN_MS = 30_000;
const SHORT_WATCH_MS = 1000;

/**
 * Follows EndpointSlice `default/kubernetes` (or Endpoints `kubernetes`, where discovery.k8s.io/v1
 * is not served) through the proxy's own backends: LIST, then WATCH from the list's
 * resourceVersion, again and again. Every ready endpoint becomes a backend next to the seeds;
 * an answer listing none is ignored, so discovery never empties the pool. A failed request moves
 * to another eligible backend; when none is left it waits, 0.8 s doubling to 30 s, with jitter.
 */
export class Discovery {
  readonly #o: DiscoveryOptions;
  readonly #log: Logger;
  readonly #random: () => number;
  #closed = false;
  #loop: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  #resource: Resource = 'endpointslices';
  #resourceVersion: string | undefined;
  /** The objects the last LIST and the WATCH since gave, by name. */
  readonly #objects = new Map<string, unknown>();
  /** The addresses last given to the pool, joined: the last good list. */
  #lastGood = '';
  #lastProblems = '';
  #failures = 0;
  /** Backends that failed since the last success or wait: the next request tries another. */
  readonly #failed = new Set<Backend>();
  #saving: Promise<void> = Promise.resolve();

  constructor(options: DiscoveryOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#random = options.random ?? Math.random;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the request in flight and any wait; resolves once the loop and a state write ended. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort?.abort(new DiscoveryError('backend_down', 'discovery stopped'));
    if (this.#sleeping) {
      clearTimeout(this.#sleeping.timer);
      this.#sleeping.wake();
    }
    await this.#loop;
    await this.#saving;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const backend = this.#o.pool.pick(this.#failed);
      if (!backend) {
        if (this.#failed.size === 0) this.#error('no_backend', 'no backend is eligible to ask', undefined);
        this.#failed.clear();
        this.#failures += 1;
        await this.#sleep(backoffDelay(this.#failures, this.#random, DEFAULT_BACKOFF));
        continue;
      }
      try {
        await this.#follow(backend);
      } catch (err) {
        if (this.#closed) break;
        const failure = err instanceof DiscoveryError ? err : new DiscoveryError('bad_response', err instanceof Error ? err.message : String(err));
        this.#error(failure.reason, failure.message, backend);
        // The next backend at once; once every eligible one failed, pick() finds none: wait.
        this.#failed.add(backend);
      }
    }
  }

  /** LIST (when there is no resourceVersion to go on from) and WATCH on `backend` until it fails. */
  async #follow(backend: Backend): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    // Requests to a backend the checks found down, or that left the pool, are given up at once.
    const watchdog = setInterval(() => {
      if (backend.removed || backend.state.kind === 'down') {
        abort.abort(new DiscoveryError('backend_down', `${backend.address} is ${backend.removed ? 'no longer a backend' : 'down'}`));
      }
    }, Math.min(1000, this.#o.pool.health.intervalMs));
    try {
      while (!this.#closed) {
        const connection = await this.#connection();
        if (this.#resourceVersion === undefined) await this.#list(backend, connection, abort.signal);
        const outcome = await this.#watch(backend, connection, abort.signal);
        if (outcome === 'expired') {
          this.#resourceVersion = undefined;
          this.#log.info({ event: 'discovery_relist', backend: backend.address, resource: this.#resource },
            'discovery: resourceVersion too old (410), listing again');
        }
      }
    } finally {
      clearInterval(watchdog);
      if (this.#abort === abort) this.#abort = undefined;
    }
  }

  async #connection(): Promise<ApiConnection> {
    const h = this.#o.pool.health;
    let credentials: ProbeCredentials;
    try {
      credentials = await this.#o.pool.probeCredentials();
    } catch (err) {
      if (err instanceof CredentialError) throw new DiscoveryError('credential', err.message);
      throw err;
    }
    return { scheme: h.scheme, tlsServerName: h.tlsServerName, insecureSkipVerify: h.insecureSkipVerify, credentials,
      timeoutMs: REQUEST_TIMEOUT_MS };
  }

  /** EndpointSlices first; Endpoints when the apiserver does not serve them (404). */
  async #list(backend: Backend, connection: ApiConnection, signal: AbortSignal): Promise<void> {
    for (const resource of ['endpointslices', 'endpoints'] as const) {
      let body: unknown;
      try {
        body = await getJson(backend, COLLECTIONS[resource], connection, signal);
      } catch (err) {
        if (resource === 'endpointslices' && err instanceof DiscoveryError && err.reason === 'not_found') continue;
        throw err;
      }
      const metadata = isObject(body) ? body['metadata'] : undefined;
      const resourceVersion = isObject(metadata) ? metadata['resourceVersion'] : undefined;
      const items = isObject(body) ? body['items'] : undefined;
      if (typeof resourceVersion !== 'string' || !Array.isArray(items)) {
        throw new DiscoveryError('bad_response', `${COLLECTIONS[resource]}: not a list`);
      }
      if (resource !== this.#resource) {
        this.#log.warn({ event: 'discovery_source', resource, backend: backend.address },
          resource === 'endpoints'
            ? 'discovery: EndpointSlices are not served (404); following Endpoints default/kubernetes'
            : 'discovery: EndpointSlices are served again; following them');
      }
      this.#resource = resource;
      this.#resourceVersion = resourceVersion;
      this.#objects.clear();
      for (const item of items) this.#objects.set(nameOf(item, ''), item);
      this.#o.metrics.discoveryEvents.inc({ type: 'relist' });
      this.#log.debug({ event: 'discovery_listed', resource, backend: backend.address, resourceVersion, objects: items.length },
        `discovery: listed ${items.length} ${resource}`);
      this.#succeeded();
      this.#apply(backend);
      return;
    }
  }

  /** One WATCH from the current resourceVersion: `ended` by the server, or `expired` (410). */
  async #watch(backend: Backend, connection: ApiConnection, signal: AbortSignal): Promise<'ended' | 'expired'> {
    const seconds = WATCH_MIN_SECONDS + Math.floor(this.#random() * (WATCH_MAX_SECONDS - WATCH_MIN_SECONDS + 1));
    const path = `${COLLECTIONS[this.#resource]}&watch=1&resourceVersion=${encodeURIComponent(this.#resourceVersion ?? '')}` +
      `&allowWatchBookmarks=true&timeoutSeconds=${seconds}`;
    let expired = false;
    let events = 0;
    const startedAt = performance.now();
    try {
      await watchJsonLines(backend, path, connection, signal, seconds * 1000 + WATCH_IDLE_MARGIN_MS, (event) => {
        events += 1;
        const next = this.#onEvent(backend, event);
        if (next === 'expired') expired = true;
        return next === 'go on';
      });
    } catch (err) {
      if (err instanceof DiscoveryError && err.expired) return 'expired';
      throw err;
    }
    // A server that ends every watch at once would otherwise be asked again and again, at once.
    if (!expired && events === 0 && performance.now() - startedAt < SHORT_WATCH_MS) {
      throw new DiscoveryError('watch_error', `the watch ended after ${Math.round(performance.now() - startedAt)} ms without an event`);
    }
    return expired ? 'expired' : 'ended';
  }

  #onEvent(backend: Backend, event: WatchEvent): 'go on' | 'expired' {
    const { type, object } = event;
    const metadata = isObject(object) ? object['metadata'] : undefined;
    const resourceVersion = isObject(metadata) ? metadata['resourceVersion'] : undefined;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED':
        if (type === 'DELETED') this.#objects.delete(nameOf(object, ''));
        else this.#objects.set(nameOf(object, ''), object);
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR': {
        const code = isObject(object) ? object['code'] : undefined;
        if (code === 410) return 'expired';
        const message = isObject(object) && typeof object['message'] === 'string' ? object['message'] : 'no message';
        throw new DiscoveryError('watch_error', `watch ERROR ${String(code)}: ${message}`, typeof code === 'number' ? code : undefined);
      }
      default:
        // A type this client does not know carries nothing it needs.
        return 'go on';
    }
    this.#o.metrics.discoveryEvents.inc({ type });
    if (typeof resourceVersion === 'string' && resourceVersion !== '') this.#resourceVersion = resourceVersion;
    this.#succeeded();
    if (type !== 'BOOKMARK') this.#apply(backend);
    return 'go on';
  }

  /** A request on some backend worked: failures so far are forgiven. */
  #succeeded(): void {
    this.#failures = 0;
    this.#failed.clear();
  }

  /** Hands the ready endpoints to the pool when they changed; an empty answer keeps the last good list. */
  #apply(backend: Backend): void {
    const override = this.#o.config.portOverride;
    const reading: Reading = this.#resource === 'endpointslices'
      ? fromEndpointSlices(this.#objects.values(), override)
      : fromEndpoints(this.#objects.get('kubernetes'), override);
    const problems = reading.problems.join('; ');
    if (problems !== this.#lastProblems) {
      this.#lastProblems = problems;
      if (problems) this.#log.warn({ event: 'discovery_ignored', problems: reading.problems }, `discovery: ignored ${problems}`);
    }
    if (reading.backends.length === 0) {
      this.#error('empty', `${this.#resource} default/kubernetes list no ready endpoint; keeping ${this.#lastGood || 'the backends as they are'}`, backend);
      return;
    }
    const key = reading.backends.map((b) => b.address).join(',');
    if (key === this.#lastGood) return;
    this.#lastGood = key;
    this.#log.info({ event: 'discovery_updated', resource: this.#resource, backend: backend.address,
      backends: reading.backends.map((b) => b.address) }, `discovery: apiservers are ${key}`);
    this.#o.pool.setDiscovered(reading.backends);
    const dir = this.#o.config.stateDir;
    if (dir !== '') {
      const resource = this.#resource;
      this.#saving = this.#saving.then(() => saveState(dir, reading.backends, resource, new Date())).catch((err: unknown) => {
        this.#error('state_file', `${dir}: ${err instanceof Error ? err.message : String(err)}`, undefined);
      });
    }
  }

  #error(reason: DiscoveryErrorReason, message: string, backend: Backend | undefined): void {
    this.#o.metrics.discoveryErrors.inc({ reason });
    // A refused credential will not fix itself: it is the operator's to act on.
    const level = reason === 'unauthorized' || reason === 'forbidden' ? 'error' : 'warn';
    this.#log[level]({ event: 'discovery_error', reason, backend: backend?.address, error: message },
      `discovery: ${DISCOVERY_ERRORS[reason]}${backend ? ` (${backend.address})` : ''}: ${message}`);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#sleeping = undefined;
        resolve();
      };
      this.#sleeping = { timer: setTimeout(wake, ms), wake };
    });
  }
}

