import type { Exchange } from './exchange.js';
import type { Pod, PodEvent, PodStore } from './pods.js';
import { expired, goJson } from './status.js';

/**
 * One WATCH response (reference §6): 200 with `application/json`, then one
 * `{"type":…,"object":…}` line per event, flushed per event. It starts from the current state
 * (synthetic ADDED) when resourceVersion is unset or "0", else from the history after it (an
 * ERROR event with a 410 Status when that is gone, as the watch cache answers). It ends
 * cleanly at `timeoutSeconds`, else after a random [minRequestTimeout, 2×minRequestTimeout),
 * and sends BOOKMARKs when asked for them.
 */

/** Which pods a watch is about. */
export interface WatchFilter {
  readonly namespace: string | undefined;
  readonly matches: (pod: Pod) => boolean;
  /** The event object as the client asked for it: the pod, or a one-row Table for kubectl. */
  readonly render: (pod: Pod) => unknown;
}

/** Timing knobs (the server's flags). */
export interface WatchTiming {
  readonly bookmarkIntervalMs: number;
  readonly minRequestTimeoutMs: number;
  readonly random: () => number;
}

/** Owns one watch: its subscription and timers. `close()` is idempotent. */
export class WatchStream {
  #closed = false;
  #unsubscribe: () => void = () => undefined;
  #endTimer: NodeJS.Timeout | undefined;
  #bookmarkTimer: NodeJS.Timeout | undefined;
  #deadline = 0;
  #stalled: boolean;
  #held: string[] = [];

  constructor(
    readonly exchange: Exchange,
    readonly store: PodStore,
    readonly filter: WatchFilter,
    readonly timing: WatchTiming,
    stalled: boolean,
    readonly onClosed: (watch: WatchStream) => void,
  ) {
    this.#stalled = stalled;
  }

  /** Sends the head and the first events, then follows the store until the deadline. */
  start(): void {
    const { exchange, store } = this;
    const rvText = exchange.query.get('resourceVersion') ?? '';
    const bookmarks = exchange.query.get('allowWatchBookmarks') === 'true';
    const timeoutSeconds = Number(exchange.query.get('timeoutSeconds') ?? '');
    exchange.response.on('close', () => this.close());
    exchange.startStream(200, { 'Content-Type': 'application/json' });

    if (rvText === '' || rvText === '0') {
      for (const pod of store.list(this.filter.namespace)) if (this.filter.matches(pod)) this.#send('ADDED', pod);
    } else {
      const since = store.eventsSince(Number(rvText));
      if (since === 'expired') {
        this.#sendLine(goJson({ type: 'ERROR', object: expired(Number(rvText), store.oldestResourceVersion) }));
        this.#finish();
        return;
      }
      for (const event of since) this.#onEvent(event);
    }
    this.#unsubscribe = store.subscribe((event) => this.#onEvent(event));

    const lifetimeMs = Number.isFinite(timeoutSeconds) && timeoutSeconds > 0
      ? timeoutSeconds * 1000
      : this.timing.minRequestTimeoutMs * (1 + this.timing.random());
    this.#deadline = Date.now() + lifetimeMs;
    this.#endTimer = setTimeout(() => this.#finish(), lifetimeMs);
    if (bookmarks) this.#scheduleBookmark();
  }

  /** Stops (or resumes) writing: a stalled watch keeps its connection but sends nothing. */
  setStalled(stalled: boolean): void {
    this.#stalled = stalled;
    if (stalled) return;
    for (const line of this.#held.splice(0)) this.exchange.write(line);
    if (this.#deadline !== 0 && Date.now() >= this.#deadline) this.#finish();
  }

  /** Unsubscribes and clears the timers; the response is left as it is. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    clearTimeout(this.#endTimer);
    clearTimeout(this.#bookmarkTimer);
    this.onClosed(this);
  }

  /** Ends the response cleanly, then closes. */
  #finish(): void {
    if (this.#stalled) return; // a stalled server does not even end its watches
    this.exchange.end();
    this.close();
  }

  // The cacher sends a bookmark every bookmarkFrequency and one 2 s before the deadline
  // (apiserver storage/cacher cacheWatcher.nextBookmarkTime).
  #scheduleBookmark(): void {
    const now = Date.now();
    let next = now + this.timing.bookmarkIntervalMs;
    const beforeDeadline = this.#deadline - 2000;
    if (beforeDeadline > now && beforeDeadline < next) next = beforeDeadline;
    this.#bookmarkTimer = setTimeout(() => {
      const bookmark = { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(this.store.resourceVersion), creationTimestamp: null }, spec: { containers: null }, status: {} };
      this.#sendLine(goJson({ type: 'BOOKMARK', object: bookmark }));
      this.#scheduleBookmark();
    }, Math.max(0, next - now));
  }

  #onEvent(event: PodEvent): void {
    const inNamespace = this.filter.namespace === undefined || event.object.metadata.namespace === this.filter.namespace;
    if (inNamespace && this.filter.matches(event.object)) this.#send(event.type, event.object);
  }

  #send(type: string, pod: Pod): void {
    this.#sendLine(goJson({ type, object: this.filter.render(pod) }));
  }

  #sendLine(json: string): void {
    if (this.#stalled) this.#held.push(`${json}\n`);
    else this.exchange.write(`${json}\n`);
  }
}
