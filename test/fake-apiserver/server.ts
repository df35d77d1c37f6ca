import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { routeApi, selectorFilter, serveApi } from './api.js';
import { authenticate, authorize, type AnonymousMode, type User } from './auth.js';
import { makeClusterPki, type ClusterPki } from './cluster-pki.js';
import { Connections, newCounters, type Counters } from './connections.js';
import { DEFAULT_ETCD_CHECK_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, EtcdLink, EtcdProbe, parseGoDuration } from './etcd.js';
import { serveEndpoints, type OpenWatch } from './endpoints-api.js';
import { KubernetesEndpoints } from './endpoints.js';
import { Exchange } from './exchange.js';
import { healthResponse, parseHealthPath, STARTING_CHECKS } from './health.js';
import { Lifecycle, REAL_STARTUP, type LifecycleState, type ShutdownOptions, type ShutdownProgress, type StartupTiming } from './lifecycle.js';
import { PodStore, type Pod } from './pods.js';
import type { LeaseReconciler } from './reconciler.js';
import { Rbac, type RbacObject } from './rbac.js';
import { encodeError, encodeObject, forbiddenPath, forbiddenResource, pathNotFound, requestTimeout, shuttingDown, unauthorized, wantsPretty } from './status.js';
import { podTable, wantsTable } from './table.js';
import { WatchStream } from './watch.js';

/** Options of {@link startFakeApiserver}. */
export interface FakeApiserverOptions {
  /** Identity: every response carries `X-Fake-Apiserver: <name>`. */
  readonly name: string;
  /** Listen address (default 127.0.0.1; `::1` works). */
  readonly host?: string;
  /** Listen port (default 0: any free port). */
  readonly port?: number;
  /** Serving certificate, key and the CA for client certificates; default: a fresh {@link makeClusterPki}. */
  readonly tls?: { readonly certPem: string; readonly keyPem: string; readonly clientCaPem?: string };
  /** Default `on`. */
  readonly anonymous?: AnonymousMode;
  /** Whether `system:public-info-viewer` is bound (default true); unbound, anonymous /readyz gets 403. */
  readonly publicInfoViewer?: boolean;
  /** Token -> identity, added to the generated PKI's tokens (when `tls` is not given). */
  readonly tokens?: ReadonlyMap<string, User> | Readonly<Record<string, User>>;
  /** The pods; pass one store to several servers to imitate apiservers sharing etcd. */
  readonly store?: PodStore;
  /** The `kubernetes` Service's endpoints; pass one to several servers of a cluster (default: a fresh one). */
  readonly endpoints?: KubernetesEndpoints;
  /** Whether discovery.k8s.io/v1 EndpointSlices are served (default true); false: 404, Endpoints only. */
  readonly servesEndpointSlices?: boolean;
  /** spec.clusterIP of Service default/kubernetes (default 10.96.0.1). */
  readonly clusterIp?: string;
  /** Watch bookmark period (default 60 s). */
  readonly bookmarkIntervalMs?: number;
  /** `--min-request-timeout`: watches without timeoutSeconds end after [t, 2t) (default 1800 s). */
  readonly minRequestTimeoutMs?: number;
  /**
   * The start-up phase when the listener first opens (reference part A, item 3): `real` (the
   * default) runs {@link startupTiming}: 403 outside system:masters, then /readyz 500, then
   * ready; `instant` is ready at once, for a test whose subject is not a starting apiserver
   * (as if it had been running long before the test). Restarts (`revive()` after a crash or
   * a stop) run the real phases unless `revive` is told otherwise.
   */
  readonly startup?: 'real' | 'instant';
  /** Durations of the start-up phases (default {@link REAL_STARTUP}). */
  readonly startupTiming?: Partial<StartupTiming>;
  /** `--etcd-healthcheck-timeout`: how long the `etcd` check waits for etcd (default 2 s). */
  readonly etcdHealthcheckTimeoutMs?: number;
  /** `--etcd-readycheck-timeout`: how long the `etcd-readiness` check waits (default 2 s). */
  readonly etcdReadycheckTimeoutMs?: number;
  /** `--request-timeout`: deadline of requests without a shorter `?timeout=` (default 60 s). */
  readonly requestTimeoutMs?: number;
  /**
   * Roles, ClusterRoles and their bindings (e.g. parsed with `parseRbac` from a manifest),
   * deciding who may read the `kubernetes` Service's EndpointSlices and Endpoints; without a
   * binding only system:masters may.
   */
  readonly rbac?: readonly RbacObject[];
  /**
   * A lease endpoint reconciler shared by the cluster's imitations: this one advertises its
   * `host` once ready, renews it while it runs, withdraws it when shutting down, and stops
   * renewing when it crashes or freezes. Without one, tests set the endpoints themselves.
   */
  readonly reconciler?: LeaseReconciler;
}

const RETRY_AFTER_EXEMPT = ['/readyz', '/livez', '/healthz', '/metrics'];

/** A running kube-apiserver imitation. Start one with {@link startFakeApiserver}. */
export class FakeApiserver {
  readonly name: string;
  readonly host: string;
  /** The generated PKI when no `tls` option was given, else null. */
  readonly pki: ClusterPki | null;
  readonly store: PodStore;
  readonly counters: Counters;
  readonly endpoints: KubernetesEndpoints;
  #servesEndpointSlices: boolean;
  readonly #clusterIp: string | undefined;
  #port = 0;
  readonly #etcd = new EtcdLink();
  readonly #etcdCheck: EtcdProbe;
  readonly #etcdReadiness: EtcdProbe;
  readonly #requestTimeoutMs: number;
  readonly #startup: 'real' | 'instant';
  readonly #startupTiming: StartupTiming;
  readonly #rbac: Rbac;
  readonly #reconciler: LeaseReconciler | undefined;
  #slowMs = 0;
  #stalled = false;
  #closed = false;
  #inFlight = 0;
  #watches = new Set<OpenWatch>();
  #delays = new Map<NodeJS.Timeout, () => void>();
  readonly #connections: Connections;
  readonly #lifecycle: Lifecycle;
  readonly #anonymous: AnonymousMode;
  readonly #publicInfoViewer: boolean;
  readonly #tokens: ReadonlyMap<string, User>;
  readonly #clientCertAuth: boolean;
  readonly #timing: { bookmarkIntervalMs: number; minRequestTimeoutMs: number; random: () => number };

  constructor(options: FakeApiserverOptions) {
    this.name = options.name;
    this.host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.pki = options.tls ? null : makeClusterPki();
    const tls = options.tls ?? this.pki?.tls;
    if (!tls) throw new Error('unreachable: no TLS material');
    this.store = options.store ?? new PodStore();
    this.counters = newCounters();
    this.endpoints = options.endpoints ?? new KubernetesEndpoints();
    this.#servesEndpointSlices = options.servesEndpointSlices ?? true;
    this.#clusterIp = options.clusterIp;
    this.#anonymous = options.anonymous ?? 'on';
    this.#publicInfoViewer = options.publicInfoViewer ?? true;
    const given = options.tokens ?? new Map<string, User>();
    this.#tokens = new Map([...(this.pki?.tokens ?? []), ...(given instanceof Map ? given : Object.entries(given))]);
    this.#clientCertAuth = tls.clientCaPem !== undefined;
    this.#timing = { bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000, minRequestTimeoutMs: options.minRequestTimeoutMs ?? 1_800_000, random: Math.random };
    const sleep = (ms: number): Promise<void> => this.#delay(ms);
    this.#etcdCheck = new EtcdProbe(this.#etcd, options.etcdHealthcheckTimeoutMs ?? DEFAULT_ETCD_CHECK_TIMEOUT_MS, sleep);
    this.#etcdReadiness = new EtcdProbe(this.#etcd, options.etcdReadycheckTimeoutMs ?? DEFAULT_ETCD_CHECK_TIMEOUT_MS, sleep);
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#startup = options.startup ?? 'real';
    this.#startupTiming = { ...REAL_STARTUP, ...options.startupTiming };
    this.#rbac = new Rbac(options.rbac ?? []);
    this.#reconciler = options.reconciler;

    const server = createSecureServer({
      allowHTTP1: true,
      ALPNProtocols: ['h2', 'http/1.1'],
      minVersion: 'TLSv1.2',
      cert: tls.certPem,
      key: tls.keyPem,
      // RequestClientCert, as the apiserver: a certificate is asked for, verified by the authenticator.
      ...(tls.clientCaPem ? { ca: tls.clientCaPem, requestCert: true, rejectUnauthorized: false } : {}),
      // 0: no handshake deadline (Go's server sets none); a held connection must never be closed by one.
      handshakeTimeout: 0,
      settings: { maxConcurrentStreams: 100 },
    });
    server.on('tlsClientError', () => undefined);
    server.on('request', (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
      const ex = new Exchange(req, res, () => this.#connections.closingHttp1);
      this.#onRequest(ex).catch((err: unknown) => {
        // A bug in the imitation: answer 500 if the head is not out yet, else cut the stream.
        if (res.headersSent) res.destroy();
        else ex.send(500, { 'Content-Type': 'text/plain; charset=utf-8' }, `fake apiserver: ${String(err)}\n`);
      });
    });
    this.#connections = new Connections(server, this.counters);
    this.#lifecycle = new Lifecycle(this.#connections, () => this.#inFlight);
  }

  /** The bound port (stable across crash and revive). */
  get port(): number {
    return this.#port;
  }

  /** `host:port`, IPv6 in brackets. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.#port}` : `${this.host}:${this.#port}`;
  }

  /** `https://host:port`. */
  get url(): string {
    return `https://${this.address}`;
  }

  /** Where the imitated process is: serving, shutting down, crashed, blackholed… */
  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  /** Opens the listener and begins the start-up phase. Called by {@link startFakeApiserver}. */
  async listen(): Promise<void> {
    const address = await this.#connections.listen(this.host, this.#port);
    this.#port = address.port;
    this.#lifecycle.begin(this.#startup === 'instant' ? 'instant' : this.#startupTiming, () => this.#reconciler?.join(this.host));
  }

  /** Resolves once the current start-up phase is over and /readyz can pass. */
  get ready(): Promise<void> {
    return this.#lifecycle.ready;
  }

  /**
   * etcd reachable or not. Down: each `etcd` check waits its timeout (2 s) and fails, one
   * after another; quorum reads and writes wait for their deadline and get 504; watches and
   * `resourceVersion=0` reads are served from the cache as before.
   */
  setEtcd(up: boolean): void {
    this.#etcd.set(up);
  }

  /** Graceful termination as after SIGTERM; see {@link ShutdownOptions} and reference §3. */
  shutdown(options: ShutdownOptions = {}): ShutdownProgress {
    // The pre-shutdown hook takes this apiserver out of the endpoints right at SIGTERM.
    if (!this.#lifecycle.shuttingDown) this.#reconciler?.leave(this.host);
    return this.#lifecycle.shutdown(options);
  }

  /** Killed: every connection reset (RST), listener closed, so connects are refused. */
  crash(): void {
    this.#reconciler?.stop(this.host);
    this.#lifecycle.crash();
  }

  /** SIGSTOPped: connects complete, but no byte is ever sent on new or existing connections. */
  blackhole(): Promise<void> {
    this.#reconciler?.stop(this.host);
    return this.#lifecycle.blackhole(this.host, this.#port);
  }

  /**
   * Running again on the same port; also clears `slow` and `stallWatches`. After `blackhole()`
   * the process resumes (SIGCONT). After `crash()` or a shutdown it is a restart: the start-up
   * phase runs again (`real`, with this server's timing) unless `startup: 'instant'` is given.
   */
  async revive(o: { startup?: 'real' | 'instant' } = {}): Promise<void> {
    this.#slowMs = 0;
    this.stallWatches(false);
    const wasBlackholed = this.#lifecycle.state.kind === 'blackholed';
    await this.#lifecycle.revive(this.host, this.#port, (o.startup ?? 'real') === 'instant' ? 'instant' : this.#startupTiming,
      () => this.#reconciler?.join(this.host));
    if (wasBlackholed) this.#reconciler?.join(this.host);
  }

  /** Delays every response by `ms` (0 turns it off). */
  slow(ms: number): void {
    this.#slowMs = ms;
  }

  /** Watches keep their connection but send nothing more (no events, bookmarks or end); false resumes. */
  stallWatches(stalled = true): void {
    this.#stalled = stalled;
    for (const watch of this.#watches) watch.setStalled(stalled);
  }

  /** Serve discovery.k8s.io/v1 EndpointSlices or not (404, as an apiserver with the group off). */
  serveEndpointSlices(served: boolean): void {
    this.#servesEndpointSlices = served;
  }

  /** Open TCP connections. */
  get openConnections(): number {
    return this.#connections.size;
  }

  /** Zeroes the counters. */
  resetCounters(): void {
    Object.assign(this.counters, newCounters());
  }

  /** Stops everything: listener, connections, timers. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#reconciler?.stop(this.host);
    this.#lifecycle.close();
    for (const [timer, resolve] of this.#delays) {
      clearTimeout(timer);
      resolve();
    }
    this.#delays.clear();
    for (const watch of this.#watches) watch.close();
    this.#connections.closeListener();
    this.#connections.setHeld(false);
    this.#connections.destroyAll();
    await this.#connections.whenEmpty();
  }

  async #onRequest(ex: Exchange): Promise<void> {
    this.counters.requests += 1;
    this.counters.requestsByPath.set(ex.path, (this.counters.requestsByPath.get(ex.path) ?? 0) + 1);
    ex.setHeader('X-Fake-Apiserver', this.name);
    const api = routeApi(ex.method, ex.path, ex.query);
    const longRunning = (api?.kind === 'pods' || api?.kind === 'endpointslices' || api?.kind === 'endpoints') && api.verb === 'watch';
    this.#trackHttp1(ex);
    if (!longRunning) this.#trackInFlight(ex);

    const state = this.#lifecycle.state;
    const exempt = RETRY_AFTER_EXEMPT.some((prefix) => ex.path.startsWith(prefix)) || (ex.header('user-agent') ?? '').startsWith('kube-apiserver/');
    if (state.kind === 'not-accepting' && state.sendRetryAfter && !exempt) {
      // WithRetryAfter sits outside WithCacheControl in the handler chain: no Cache-Control here.
      ex.closeConnection();
      ex.send(429, { 'Retry-After': '5', 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
        'The apiserver is shutting down, please try again later.\n');
      return;
    }
    ex.setHeader('Cache-Control', 'no-cache, private');
    const pretty = wantsPretty(ex.query, ex.header('user-agent'));
    if (state.kind === 'not-accepting' && !state.sendRetryAfter && !longRunning && !exempt) {
      // WithWaitGroup: EncodeOrDie already ends in a newline and one more is appended.
      ex.send(503, { 'Retry-After': '1', 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' }, `${encodeObject(shuttingDown(), false)}\n`);
      return;
    }

    // Slowness sits inside the shutdown filters: a request admitted before the drain completes.
    if (this.#slowMs > 0) await this.#delay(this.#slowMs);
    if (ex.finished || this.#closed) return;

    const accept = ex.header('accept');
    const authn = authenticate({ path: ex.path, authorization: ex.header('authorization'), socket: ex.socket },
      { anonymous: this.#anonymous, tokens: this.#tokens, clientCertAuth: this.#clientCertAuth });
    // UnauthenticatedHTTP2DOSMitigation: an anonymous or failed request ends its HTTP/2 connection.
    if (authn.kind !== 'user' && ex.protocol === 'HTTP/2') ex.closeConnection();
    if (authn.kind === 'unauthorized') {
      ex.send(401, { 'Content-Type': 'application/json' }, encodeError(unauthorized(), accept, pretty));
      return;
    }

    const resource = api?.kind === 'pods' || api?.kind === 'namespaces' || api?.kind === 'services' || api?.kind === 'endpointslices' || api?.kind === 'endpoints' ? api : null;
    const verb = resource ? resource.verb : ex.method.toLowerCase();
    const decision = this.#authorize(authn.user, verb, ex.path, resource);
    if (!decision.allowed) {
      const status = resource
        ? forbiddenResource(authn.user.name, verb, resource.kind, resource.kind === 'namespaces' ? undefined : resource.namespace, resource.name,
          resource.kind === 'endpointslices' ? 'discovery.k8s.io' : '', decision.reason)
        : forbiddenPath(authn.user.name, verb, ex.path, decision.reason);
      ex.send(403, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' }, encodeError(status, accept, pretty));
      return;
    }

    const health = parseHealthPath(ex.path);
    if (health) {
      const now = this.#lifecycle; // read after any slow() delay
      const answer = await healthResponse(health.root, health.check, ex.query, {
        etcd: () => this.#etcdCheck.run(),
        etcdReadiness: () => this.#etcdReadiness.run(),
        shuttingDown: now.shuttingDown,
        starting: now.state.kind === 'starting' ? STARTING_CHECKS : new Set(),
      });
      if (answer) ex.send(answer.status, answer.headers, answer.body);
      else ex.send(404, { 'Content-Type': 'application/json' }, encodeObject(pathNotFound(), pretty));
      return;
    }
    if (api && this.#needsEtcd(api, ex) && !(await this.#etcd.waitUp(this.#delay(this.#deadlineMs(ex))))) {
      // The request's deadline passed while etcd did not answer: the timeout filter's 504.
      ex.send(504, { 'Content-Type': 'application/json' }, encodeObject(requestTimeout(), pretty));
      return;
    }
    if (ex.finished || this.#closed) return;
    if (api?.kind === 'pods' && api.verb === 'watch') {
      const table = wantsTable(ex.header('accept'));
      const render = (pod: Pod): unknown => (table ? podTable([pod], Number(pod.metadata.resourceVersion)) : pod);
      const watch = new WatchStream(ex, this.store, { namespace: api.namespace, matches: selectorFilter(ex.query), render }, this.#timing, this.#stalled,
        (closed) => this.#watches.delete(closed));
      this.#watches.add(watch);
      watch.start();
      return;
    }
    if (api?.kind === 'endpointslices' && !this.#servesEndpointSlices) {
      ex.send(404, { 'Content-Type': 'application/json' }, encodeObject(pathNotFound(), pretty));
      return;
    }
    if (api?.kind === 'endpointslices' || api?.kind === 'endpoints') {
      serveEndpoints(ex, api, this.endpoints, { pretty, timing: this.#timing, stalled: this.#stalled,
        onOpened: (opened) => this.#watches.add(opened), onClosed: (closed) => this.#watches.delete(closed) });
      return;
    }
    if (api) {
      const answer = serveApi(api, this.store, ex.query, { pretty, table: wantsTable(ex.header('accept')), serverAddress: this.address,
        ...(this.#clusterIp ? { clusterIp: this.#clusterIp } : {}) });
      ex.send(answer.status, answer.headers, answer.body);
      return;
    }
    ex.send(404, { 'Content-Type': 'application/json' }, encodeObject(pathNotFound(), pretty));
  }

  /**
   * RBAC's decision: before its informers synced (start-up), nobody outside system:masters
   * is allowed anything; the `kubernetes` Service's endpoints need a binding (rbac.ts); the
   * Service itself is readable by nodes (the Node authorizer's rules have services) and by
   * whoever a binding allows; everything else follows the bootstrap roles (auth.ts).
   */
  #authorize(user: User, verb: string, path: string, resource: { kind: string; namespace?: string | undefined; name: string | undefined } | null):
    { allowed: boolean; reason: string } {
    if (user.groups.includes('system:masters')) return { allowed: true, reason: '' };
    const state = this.#lifecycle.state;
    if (state.kind === 'starting' && state.phase === 'rbac') return { allowed: false, reason: '' };
    if (resource && (resource.kind === 'endpointslices' || resource.kind === 'endpoints')) {
      const decision = this.#rbac.authorize(user, { verb, apiGroup: resource.kind === 'endpointslices' ? 'discovery.k8s.io' : '',
        resource: resource.kind, namespace: resource.namespace, name: resource.name });
      return decision.allowed ? { allowed: true, reason: '' } : { allowed: false, reason: decision.reason };
    }
    if (resource?.kind === 'services') {
      if (user.groups.includes('system:nodes') && user.name.startsWith('system:node:')) return { allowed: true, reason: '' };
      const decision = this.#rbac.authorize(user, { verb, apiGroup: '', resource: 'services', namespace: resource.namespace, name: resource.name });
      return decision.allowed ? { allowed: true, reason: '' } : { allowed: false, reason: decision.reason };
    }
    return { allowed: authorize(user, verb, path, this.#publicInfoViewer), reason: '' };
  }

  /**
   * Whether serving `api` needs etcd: a write, a GET of one object or a LIST without a
   * resourceVersion (quorum reads). Watches, and reads at resourceVersion=0 or at a given
   * version, come from the watch cache.
   */
  #needsEtcd(api: NonNullable<ReturnType<typeof routeApi>>, ex: Exchange): boolean {
    if (this.#etcd.up) return false;
    if (api.kind === 'not-allowed') return true;
    if (api.kind !== 'pods' && api.kind !== 'namespaces' && api.kind !== 'services' && api.kind !== 'endpointslices' && api.kind !== 'endpoints') return false;
    const rv = ex.query.get('resourceVersion') ?? '';
    if (api.verb === 'watch') return false;
    if (api.verb === 'get') return rv !== '0';
    return rv === '';
  }

  /** The request's deadline: `?timeout=` when shorter than `--request-timeout`. */
  #deadlineMs(ex: Exchange): number {
    const asked = parseGoDuration(ex.query.get('timeout') ?? '');
    return asked !== undefined && asked > 0 && asked < this.#requestTimeoutMs ? asked : this.#requestTimeoutMs;
  }

  #trackHttp1(ex: Exchange): void {
    const socket = ex.protocol === 'HTTP/1.1' ? ex.socket : null;
    if (!socket) return;
    this.#connections.http1Started(socket);
    ex.response.once('close', () => this.#connections.http1Finished(socket));
  }

  #trackInFlight(ex: Exchange): void {
    this.#inFlight += 1;
    ex.response.once('close', () => {
      this.#inFlight -= 1;
      this.#lifecycle.requestFinished();
    });
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#delays.delete(timer);
        resolve();
      }, ms);
      this.#delays.set(timer, resolve);
    });
  }
}

/** Starts an imitation and waits until it listens. */
export async function startFakeApiserver(options: FakeApiserverOptions): Promise<FakeApiserver> {
  const server = new FakeApiserver(options);
  await server.listen();
  return server;
}
