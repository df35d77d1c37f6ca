import type net from 'node:net';
import type { Registry } from 'prom-client';
import { AdminServer } from './admin/server.js';
import { Pool } from './backends/pool.js';
import type { Config, HostPort } from './config/schema.js';
import { DiscoveryController } from './discovery/controller.js';
import { exposedCredentialFiles } from './health/credentials.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { type Bind, Listener, formatHostPort } from './proxy/listener.js';
import { Session, type SessionContext } from './proxy/session.js';

/** A running kube-local-lb: listeners, pool, checkers and the admin server. */
export interface App {
  /** Where the listeners are bound (port 0 in the config resolved to the real port). */
  readonly listenAddresses: HostPort[];
  /** Where the admin server is bound, or null when disabled. */
  readonly adminAddress: HostPort | null;
  readonly pool: Pool;
  readonly metrics: Metrics;
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

class Runtime implements App {
  readonly pool: Pool;
  readonly metrics: Metrics;
  readonly #log: Logger;
  readonly #sessions = new Set<Session>();
  readonly #listeners = new Map<string, Listener>();
  readonly #ctx: SessionContext;
  readonly #discovery: DiscoveryController;
  #config: Config;
  #admin: AdminServer | undefined;
  #adminAddress: HostPort | null = null;
  #closing: Promise<void> | undefined;
  #onIdle: (() => void) | undefined;

  constructor(config: Config, private readonly o: AppOptions) {
    this.#config = config;
    this.#log = o.log;
    this.metrics = new Metrics(o.registry);
    this.metrics.maxConnections.set(config.maxConnections);
    this.pool = new Pool(config, { log: o.log, metrics: this.metrics });
    this.#discovery = new DiscoveryController({ pool: this.pool, log: o.log, metrics: this.metrics });
    this.#ctx = {
      pool: this.pool,
      metrics: this.metrics,
      log: o.log.child({ component: 'session' }),
      config: () => this.#config,
      onClosed: (s) => {
        this.#sessions.delete(s);
        if (this.#sessions.size === 0) this.#onIdle?.();
      },
    };
  }

  get listenAddresses(): HostPort[] {
    return [...this.#listeners.values()].flatMap((l) => (l.address ? [l.address] : []));
  }
  get adminAddress(): HostPort | null {
    return this.#adminAddress;
  }
  get sessionCount(): number {
    return this.#sessions.size;
  }

  async start(): Promise<void> {
    this.#warnAboutSettings(this.#config);
    // Before the checkers start: the state file's backends are checked with the seeds.
    this.#discovery.apply(this.#config);
    this.pool.start();
    const fds = this.o.listenFds ?? [];
    const binds: Bind[] =
      fds.length > 0
        ? fds.map((fd) => ({ kind: 'fd', fd }))
        : this.#config.listen.map((address) => ({ kind: 'address', address }));
    for (const bind of binds) await this.#openListener(bind);
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

  async #openListener(bind: Bind): Promise<void> {
    const key = bind.kind === 'fd' ? `fd:${bind.fd}` : formatHostPort(bind.address);
    const listener = new Listener({ bind, log: this.#log.child({ component: 'listener' }), onConnection: (s) => this.#accept(s) });
    await listener.listen();
    this.#listeners.set(key, listener);
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#sessions.size >= this.#config.maxConnections) {
      this.metrics.rejectedConnections.inc({ reason: 'max_connections' });
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    const session = new Session(socket, this.#ctx);
    this.#sessions.add(session);
    session.start();
  }

  #warnAboutSettings(config: Config): void {
    if (config.health.insecureSkipVerify) {
      this.#log.warn({ event: 'insecure_health_checks' },
        'health checks do not verify the apiserver certificate (--health-insecure-skip-verify)');
    }
    for (const { file, mode } of exposedCredentialFiles(config.health)) {
      this.#log.warn({ event: 'credential_file_exposed', file, mode },
        `health check credential ${file} can be read by other users (mode ${mode}): chmod 600 it`);
    }
    const { timeoutMs, intervalMs, fall } = config.health;
    if (timeoutMs > intervalMs) {
      this.#log.warn({ event: 'health_timeout_exceeds_interval', timeoutMs, intervalMs },
        `health checks time out after ${timeoutMs} ms but are due every ${intervalMs} ms: a silent apiserver is found down after ${fall} x ${timeoutMs} ms, not ${fall} x ${intervalMs} ms`);
    }
    if (config.health.scheme === 'http') {
      this.#log.warn({ event: 'plain_http_health_checks' },
        'health checks use plain HTTP (--health-scheme http): meant for tests and benchmarks only');
    }
  }

  async reload(config: Config): Promise<void> {
    // Listeners first: binding a new address is the one step that can fail, and a reload that
    // fails must leave everything as it was (old addresses, backends and settings).
    if (!this.o.listenFds?.length) await this.#moveListeners(config.listen);
    const old = this.#config;
    this.#config = config;
    this.pool.update(config);
    this.metrics.maxConnections.set(config.maxConnections);
    this.#discovery.apply(config);
    if (JSON.stringify(old.health) !== JSON.stringify(config.health)) this.#warnAboutSettings(config);
    if (JSON.stringify(old.adminListen) !== JSON.stringify(config.adminListen)) {
      this.#log.warn({ event: 'restart_required', key: 'adminListen' },
        'adminListen changed: the admin endpoint stays where it is until kube-local-lb restarts');
    }
    this.metrics.configReloads.inc({ result: 'applied' });
    this.#log.info({ event: 'config_reloaded', backends: config.backends.length }, 'configuration reloaded');
  }

  /**
   * New listen addresses are bound before gone ones are closed, so the proxy never stops
   * accepting; when one cannot be bound, the ones just bound are closed again and the error
   * thrown, nothing else changed. Sessions accepted on either are not touched.
   */
  async #moveListeners(listen: readonly HostPort[]): Promise<void> {
    const wanted = new Map(listen.map((a) => [formatHostPort(a), a]));
    const added: string[] = [];
    try {
      for (const [key, address] of wanted) {
        if (this.#listeners.has(key)) continue;
        await this.#openListener({ kind: 'address', address });
        added.push(key);
      }
    } catch (err) {
      for (const key of added) {
        this.#listeners.get(key)?.close();
        this.#listeners.delete(key);
      }
      throw err;
    }
    for (const [key, listener] of this.#listeners) {
      if (!wanted.has(key)) {
        listener.close();
        this.#listeners.delete(key);
      }
    }
  }

  rejectReload(message: string): void {
    this.metrics.configReloads.inc({ result: 'rejected' });
    this.#log.error({ event: 'config_rejected', error: message }, `new configuration refused, the old one stays: ${message}`);
  }

  close(graceMs = this.#config.shutdownGraceMs): Promise<void> {
    this.#closing ??= this.#shutdown(graceMs);
    return this.#closing;
  }

  async #shutdown(graceMs: number): Promise<void> {
    for (const listener of this.#listeners.values()) listener.close();
    this.#log.info({ event: 'shutdown', sessions: this.#sessions.size, graceMs },
      `shutting down: ${this.#sessions.size} sessions get up to ${graceMs} ms`);
    if (this.#sessions.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#onIdle = resolve;
        timer = setTimeout(resolve, graceMs);
      });
      clearTimeout(timer);
      this.#onIdle = undefined;
    }
    for (const s of [...this.#sessions]) s.close('shutdown', false);
    await this.#discovery.close();
    this.pool.close();
    await this.#admin?.close();
  }
}
