import type { Section } from '../config/changes.js';
import type { BackendConfig, Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { DISCOVERY_ERRORS } from './api-client.js';
import { Discovery, type DiscoveryPool } from './discovery.js';
import { STATE_FILE, loadState } from './state-file.js';
import type { DiscoveryMetrics } from './metrics.js';

export interface DiscoveryControllerOptions {
  pool: DiscoveryPool & { readonly discovered: string[]; readonly credential: string };
  log: Logger;
  metrics: DiscoveryMetrics;
}

/**
 * Runs discovery as the configuration says: started with the app (after the state file, if any,
 * gave the pool the last good list), restarted when a reload changes its settings, stopped (and
 * its backends removed, drained) when a reload turns it off.
 */
export class DiscoveryController {
  readonly #o: DiscoveryControllerOptions;
  readonly #log: Logger;
  #running: Discovery | undefined;
  #applied = false;
  readonly #stopping = new Set<Promise<void>>();

  constructor(options: DiscoveryControllerOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'discovery' });
    options.metrics.countDiscoveredFrom(() => options.pool.discovered.length);
  }

  /**
   * Applies the discovery settings of `config`: at start, and on a reload whose `changes` name
   * them; nothing happens on a reload that left them as they were.
   */
  apply(config: Config, changes?: ReadonlySet<Section>): void {
    if (this.#applied && changes && !changes.has('discovery')) return;
    this.#applied = true;
    const wasEnabled = this.#running !== undefined;
    this.#stop();
    const discovery = config.discovery;
    if (!discovery.enabled) {
      if (wasEnabled) {
        this.#log.info({ event: 'discovery_stopped' }, 'discovery turned off: discovered backends are removed (drained)');
        this.#o.pool.setDiscovered([]);
      }
      return;
    }
    // Every type and reason exported from the start, at 0: an alert on increase() sees the first one.
    for (const type of ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'relist']) this.#o.metrics.discoveryEvents.inc({ type }, 0);
    for (const reason of Object.keys(DISCOVERY_ERRORS)) this.#o.metrics.discoveryErrors.inc({ reason }, 0);
    if (discovery.stateDir !== '' && this.#o.pool.discovered.length === 0) this.#load(discovery.stateDir);
    this.#log.info({ event: 'discovery_started', credential: this.#o.pool.credential, portOverride: discovery.portOverride || undefined,
      stateDir: discovery.stateDir || undefined }, 'discovery follows EndpointSlice default/kubernetes through the backends');
    if (config.health.auth === 'anonymous') {
      this.#log.warn({ event: 'discovery_anonymous' },
        'discovery with the anonymous credential: apiservers answer 403 unless anonymous may list and watch endpointslices; ' +
        'give --health-auth a credential (docs/discovery.md)');
    }
    this.#running = new Discovery({ pool: this.#o.pool, config: discovery, log: this.#log, metrics: this.#o.metrics });
    this.#running.start();
  }

  /** Stops discovery; resolves when its requests and its last state write have ended. */
  async close(): Promise<void> {
    this.#stop();
    await Promise.all(this.#stopping);
  }

  #stop(): void {
    const running = this.#running;
    this.#running = undefined;
    if (!running) return;
    const stopping = running.close().finally(() => this.#stopping.delete(stopping));
    this.#stopping.add(stopping);
  }

  /** The last good list of a previous run: backends to check until discovery answers. */
  #load(dir: string): void {
    const state = loadState(dir);
    switch (state.kind) {
      case 'none':
        return;
      case 'unusable':
        this.#log.warn({ event: 'discovery_state_ignored', file: `${dir}/${STATE_FILE}`, error: state.reason },
          `discovery: ignoring ${dir}/${STATE_FILE}: ${state.reason}`);
        return;
      case 'loaded': {
        const backends: BackendConfig[] = state.backends;
        this.#log.info({ event: 'discovery_state_loaded', file: `${dir}/${STATE_FILE}`, savedAt: state.savedAt,
          backends: backends.map((b) => b.address) }, `discovery: ${backends.length} backends from the last run, checked before use`);
        if (backends.length > 0) this.#o.pool.setDiscovered(backends);
        return;
      }
    }
  }
}
