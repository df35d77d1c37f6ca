import type { Registry } from 'prom-client';
import { AdminServer } from '../admin/server.js';
import { Pool } from '../backends/pool.js';
import { Rebalancer } from '../backends/rebalancer.js';
import { readClusterIp } from '../clusterip/auto.js';
import { ClusterIpInterception } from '../clusterip/interception.js';
import { interceptionWanted } from '../clusterip/precheck.js';
import { formatHostPort } from '../config/address.js';
import { configChanges } from '../config/changes.js';
import { healthTimeoutWarning } from '../config/health-timing.js';
import type { Config, HostPort } from '../config/schema.js';
import { DiscoveryController } from '../discovery/controller.js';
import { exposedCredentialFiles } from '../health/credentials.js';
import type { Logger } from '../log.js';
import { Front } from '../proxy/front.js';
import { type AppMetrics, createMetrics } from './metrics.js';

/** A running kube-local-lb: listeners, pool, checkers and the admin server. */
export interface App {
  /** The config in force: the one place it is held. */
  readonly config: Config;
  /** Where the listeners are bound (port 0 in the config resolved to the real port). */
  readonly listenAddresses: HostPort[];
  /** Where the admin server is bound, or null when disabled. */
  readonly adminAddress: HostPort | null;
  readonly pool: Pool;
  readonly metrics: AppMetrics;
  /** Sessions open now. */
  readonly sessionCount: number;
  /** Apply a new, already validated config: backends added or removed, settings updated. */
  reload(config: Config): Promise<void>;
  /** A reload was refused (invalid config): log it and count it; the old config stays. */
  rejectReload(message: string): void;
  /** Stop accepting, let sessions run for up to `graceMs`, then close everything. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

export interface AppOptions {
  log: Logger;
  registry: Registry;
  /** File descriptors of already-listening sockets (systemd socket activation). */
  listenFds?: number[];
}

export async function startApp(config: Config, options: AppOptions): Promise<App> {
  const app = new Runtime(config, options);
  try {
    await app.start();
  } catch (err) {
    await app.close(0);
    throw err;
  }
  return app;
}

/** The composition root: builds the parts, starts them in order, fans a reload out, closes them. */
class Runtime implements App {
  readonly pool: Pool;
  readonly metrics: AppMetrics;
  readonly #log: Logger;
  readonly #front: Front;
  readonly #discovery: DiscoveryController;
  readonly #rebalancer: Rebalancer;
  readonly #clusterIp: ClusterIpInterception | undefined;
  #config: Config;
  #admin: AdminServer | undefined;
  #adminAddress: HostPort | null = null;
  #closing: Promise<void> | undefined;

  constructor(config: Config, private readonly o: AppOptions) {
    this.#config = config;
    this.#log = o.log;
    this.metrics = createMetrics(o.registry);
    this.pool = new Pool(config, { log: o.log, metrics: this.metrics.backends });
    this.#discovery = new DiscoveryController({ pool: this.pool, log: o.log, metrics: this.metrics.discovery });
    this.#rebalancer = new Rebalancer({ backends: () => this.pool.backends, panic: () => this.pool.panic,
      config: () => this.#config, metrics: this.metrics.backends, log: o.log });
    this.#front = new Front({ pool: this.pool, metrics: this.metrics.proxy, log: o.log, config: () => this.#config,
      ...(o.listenFds ? { listenFds: o.listenFds } : {}) });
    if (interceptionWanted(config.clusterIp)) {
      this.#clusterIp = new ClusterIpInterception({ config: config.clusterIp, log: o.log, registry: o.registry,
        resolve: (signal) => readClusterIp(this.pool, signal),
        listen: (address, role) => this.#front.hold(address, role) });
    }
  }

  get config(): Config {
    return this.#config;
  }
  get listenAddresses(): HostPort[] {
    return this.#front.addresses;
  }
  get adminAddress(): HostPort | null {
    return this.#adminAddress;
  }
  get sessionCount(): number {
    return this.#front.sessionCount;
  }

  async start(): Promise<void> {
    warnAboutSettings(this.#config, this.#log);
    // Before the checkers start: the state file's backends are checked with the seeds.
    this.#discovery.apply(this.#config);
    this.pool.start();
    this.#rebalancer.start();
    await this.#front.open();
    await this.#clusterIp?.start();
    if (this.#config.adminListen) {
      this.#admin = new AdminServer({
        address: this.#config.adminListen,
        pool: () => this.pool,
        registry: this.o.registry,
        log: this.#log.child({ component: 'admin' }),
      });
      this.#adminAddress = await this.#admin.listen();
      this.#log.info({ event: 'admin_listening', address: formatHostPort(this.#adminAddress) },
        `admin endpoint on http://${formatHostPort(this.#adminAddress)}`);
    }
  }

  async reload(config: Config): Promise<void> {
    // Listeners first: binding a new address is the one step that can fail, and a reload that
    // fails must leave everything as it was (old addresses, backends and settings).
    await this.#front.move(config.listen);
    const changes = configChanges(this.#config, config);
    this.#config = config;
    this.pool.update(config, changes);
    this.#front.applied(config);
    this.#discovery.apply(config, changes);
    if (changes.has('health')) warnAboutSettings(config, this.#log);
    if (changes.has('clusterIp')) {
      this.#log.warn({ event: 'restart_required', setting: 'clusterIP' },
        'clusterIP changed: the interception stays as it is until kube-local-lb restarts');
    }
    if (changes.has('adminListen')) {
      this.#log.warn({ event: 'restart_required', setting: 'adminListen' },
        'adminListen changed: the admin endpoint stays where it is until kube-local-lb restarts');
    }
    this.metrics.service.configReloads.inc({ result: 'applied' });
    this.#log.info({ event: 'config_reloaded', backends: config.backends.length }, 'configuration reloaded');
  }

  rejectReload(message: string): void {
    this.metrics.service.configReloads.inc({ result: 'rejected' });
    this.#log.error({ event: 'config_rejected', error: message }, `new configuration refused, the old one stays: ${message}`);
  }

  close(graceMs = this.#config.shutdownGraceMs): Promise<void> {
    this.#closing ??= this.#shutdown(graceMs);
    return this.#closing;
  }

  async #shutdown(graceMs: number): Promise<void> {
    this.#rebalancer.stop();
    // Before the listeners close: new connections to the ClusterIP go to kube-proxy's path at once.
    await this.#clusterIp?.close();
    await this.#front.drain(graceMs);
    await this.#discovery.close();
    this.pool.close();
    await this.#admin?.close();
  }
}

/** Health settings an operator should hear about: at start, and when a reload changes them. */
function warnAboutSettings(config: Config, log: Logger): void {
  if (config.health.insecureSkipVerify) {
    log.warn({ event: 'insecure_health_checks' },
      'health checks do not verify the apiserver certificate (--health-insecure-skip-verify)');
  }
  for (const { file, mode } of exposedCredentialFiles(config.health)) {
    log.warn({ event: 'credential_file_exposed', file, mode },
      `health check credential ${file} can be read by other users (mode ${mode}): chmod 600 it`);
  }
  const timing = healthTimeoutWarning(config.health);
  if (timing !== undefined) {
    const { timeoutMs, intervalMs } = config.health;
    log.warn({ event: 'health_timeout_exceeds_interval', timeoutMs, intervalMs }, timing);
  }
  if (config.health.scheme === 'http') {
    log.warn({ event: 'plain_http_health_checks' },
      'health checks use plain HTTP (--health-scheme http): meant for tests and benchmarks only');
  }
}
