import type { Exchange } from './exchange.js';
import { type ApiObject, type EndpointsEvent, type EndpointsNotice, type EndpointsResource, GROUP_VERSION, type KubernetesEndpoints } from './endpoints.js';
import { encodeObject, expired, goJson, objectNotFound } from './status.js';
import type { WatchTiming } from './watch.js';

/**
 * GET, LIST and WATCH of EndpointSlices (discovery.k8s.io/v1) and Endpoints (v1), for the one
 * pair of objects this imitation has: `default/kubernetes` (endpoints.ts). LIST and WATCH take
 * `labelSelector` and `fieldSelector` on `metadata.name` and `metadata.namespace`; a WATCH is
 * JSON lines like the pods' (watch.ts): ADDED for the current state when it starts without a
 * resourceVersion, the history after one, ERROR 410 when that is gone, BOOKMARKs when allowed.
 */

/** A request for one of the two resources. */
export interface EndpointsRoute {
  readonly kind: EndpointsResource;
  readonly verb: 'get' | 'list' | 'watch';
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

/** The open watches, as the server sees them: to stall or close. */
export interface OpenWatch {
  setStalled(stalled: boolean): void;
  close(): void;
}

const JSON_TYPE = { 'Content-Type': 'application/json' };

/** Answers `route`; a WATCH is announced (`onOpened`, before its first line) so that the server can stall and close it. */
export function serveEndpoints(
  ex: Exchange,
  route: EndpointsRoute,
  state: KubernetesEndpoints,
  o: { pretty: boolean; timing: WatchTiming; stalled: boolean; onOpened: (watch: OpenWatch) => void; onClosed: (watch: OpenWatch) => void },
): void {
  const matches = objectFilter(ex.query);
  const inNamespace = (object: ApiObject): boolean => route.namespace === undefined || object.metadata.namespace === route.namespace;
  if (route.verb === 'get') {
    const object = state.get(route.kind);
    if (!object || !inNamespace(object) || object.metadata.name !== route.name) {
      const resource = route.kind === 'endpointslices' ? 'endpointslices.discovery.k8s.io' : 'endpoints';
      ex.send(404, JSON_TYPE, encodeObject(objectNotFound(resource, route.name ?? ''), o.pretty));
      return;
    }
    ex.send(200, JSON_TYPE, encodeObject(object, o.pretty));
    return;
  }
  if (route.verb === 'list') {
    const items = [state.get(route.kind)]
      .filter((object): object is ApiObject => object !== undefined && inNamespace(object) && matches(object))
      .map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
    const { kind, apiVersion } = GROUP_VERSION[route.kind];
    ex.send(200, JSON_TYPE, encodeObject({ kind: `${kind}List`, apiVersion, metadata: { resourceVersion: String(state.resourceVersion) }, items }, o.pretty));
    return;
  }
  const watch = new EndpointsWatch(ex, route.kind, state, (object) => inNamespace(object) && matches(object), o.timing, o.stalled, o.onClosed);
  o.onOpened(watch);
  watch.start();
}

/** `labelSelector` (`a=b`, `a==b`, `a!=b`, `a`, `!a`) and `fieldSelector` on metadata.name and metadata.namespace. */
function objectFilter(query: URLSearchParams): (object: ApiObject) => boolean {
  const terms = (text: string | null): { key: string; op: string; value: string }[] =>
    (text ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '').map((t) => {
      const m = /^([^!=]+?)\s*(==|!=|=)\s*(.*)$/.exec(t);
      if (m) return { key: m[1] ?? '', op: m[2] === '!=' ? '!=' : '=', value: m[3] ?? '' };
      return t.startsWith('!') ? { key: t.slice(1), op: '!exists', value: '' } : { key: t, op: 'exists', value: '' };
    });
  const labels = terms(query.get('labelSelector'));
  const fields = terms(query.get('fieldSelector'));
  const test = (value: string | undefined, term: { op: string; value: string }): boolean =>
    term.op === '=' ? value === term.value : term.op === '!=' ? value !== term.value : term.op === 'exists' ? value !== undefined : value === undefined;
  const field = (object: ApiObject, key: string): string | undefined =>
    key === 'metadata.name' ? object.metadata.name : key === 'metadata.namespace' ? object.metadata.namespace : undefined;
  return (object) => labels.every((t) => test(object.metadata.labels[t.key], t)) && fields.every((t) => test(field(object, t.key), t));
}

/** One WATCH response: see the file comment. `close()` is idempotent. */
class EndpointsWatch implements OpenWatch {
  #closed = false;
  #unsubscribe: () => void = () => undefined;
  #endTimer: NodeJS.Timeout | undefined;
  #bookmarkTimer: NodeJS.Timeout | undefined;
  #stalled: boolean;
  #held: string[] = [];

  constructor(
    readonly exchange: Exchange,
    readonly resource: EndpointsResource,
    readonly state: KubernetesEndpoints,
    readonly matches: (object: ApiObject) => boolean,
    readonly timing: WatchTiming,
    stalled: boolean,
    readonly onClosed: (watch: OpenWatch) => void,
  ) {
    this.#stalled = stalled;
  }

  start(): void {
    const { exchange, state, resource } = this;
    const rvText = exchange.query.get('resourceVersion') ?? '';
    const timeoutSeconds = Number(exchange.query.get('timeoutSeconds') ?? '');
    exchange.response.on('close', () => this.close());
    exchange.startStream(200, { 'Content-Type': 'application/json' });
    if (rvText === '' || rvText === '0') {
      const current = state.get(resource);
      if (current && this.matches(current)) this.#sendLine(goJson({ type: 'ADDED', object: current }));
    } else {
      const since = state.eventsSince(resource, Number(rvText));
      if (since === 'expired') {
        this.#expire(Number(rvText));
        return;
      }
      for (const event of since) this.#onEvent(event);
    }
    this.#unsubscribe = state.subscribe((notice: EndpointsNotice) => {
      if (notice.kind === 'expire') this.#expire(Number(rvText));
      else if (notice.event.resource === resource) this.#onEvent(notice.event);
    });
    const lifetimeMs = Number.isFinite(timeoutSeconds) && timeoutSeconds > 0
      ? timeoutSeconds * 1000
      : this.timing.minRequestTimeoutMs * (1 + this.timing.random());
    this.#endTimer = setTimeout(() => this.#finish(), lifetimeMs);
    if (exchange.query.get('allowWatchBookmarks') === 'true') this.#scheduleBookmark();
  }

  setStalled(stalled: boolean): void {
    this.#stalled = stalled;
    if (!stalled) for (const line of this.#held.splice(0)) this.exchange.write(line);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    clearTimeout(this.#endTimer);
    clearTimeout(this.#bookmarkTimer);
    this.onClosed(this);
  }

  #finish(): void {
    if (this.#stalled) return;
    this.exchange.end();
    this.close();
  }

  /** ERROR with a 410 Status, then the end: the client must list again. */
  #expire(requested: number): void {
    this.#sendLine(goJson({ type: 'ERROR', object: expired(requested, this.state.oldestResourceVersion) }));
    this.#finish();
  }

  #scheduleBookmark(): void {
    this.#bookmarkTimer = setTimeout(() => {
      // A bookmark is the kind's empty object with only the resourceVersion set.
      const object = { ...GROUP_VERSION[this.resource], metadata: { resourceVersion: String(this.state.resourceVersion), creationTimestamp: null } };
      this.#sendLine(goJson({ type: 'BOOKMARK', object }));
      this.#scheduleBookmark();
    }, this.timing.bookmarkIntervalMs);
  }

  #onEvent(event: EndpointsEvent): void {
    if (this.matches(event.object)) this.#sendLine(goJson({ type: event.type, object: event.object }));
  }

  #sendLine(json: string): void {
    if (this.#stalled) this.#held.push(`${json}\n`);
    else this.exchange.write(`${json}\n`);
  }
}
