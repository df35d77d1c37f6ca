import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { Registry } from 'prom-client';
import { startApp, type App, type AppOptions } from './app.js';
import { formatHostPort } from '../config/address.js';
import type { Env } from '../config/env.js';
import { loadConfig, type FlagValues } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { VERSION } from '../version.js';
import { StartupError } from './startup-error.js';
import { listenFdsFrom } from './socket-activation.js';

/** How often the config file's metadata is polled for a change. */
const CONFIG_POLL_MS = 2000;

export type ReloadTrigger = 'signal' | 'file';

/** Where the config came from: read again, as is, on every reload. */
export interface ConfigSources {
  flags: FlagValues;
  env: Env;
}

/** What `Service.start` needs from outside; tests replace `startApp` and the logger. */
export interface ServiceDeps {
  startApp: (config: Config, options: AppOptions) => Promise<App>;
  createLogger: (level: Config['logLevel']) => Logger;
  pid: number;
  version: string;
}

export const DEFAULT_DEPS: ServiceDeps = { startApp, createLogger, pid: process.pid, version: VERSION };

/**
 * A running kube-local-lb: the app, and the sources its config came from so that it can be read
 * again. Reloads on request (SIGHUP, handled by main.ts) and when the config file changes.
 */
export class Service {
  #closing: Promise<void> | undefined;
  /** Reloads run one after another: a second SIGHUP during a reload waits for it. */
  #reloading: Promise<void> = Promise.resolve();
  readonly #sources: ConfigSources;

  private constructor(
    config: Config,
    readonly log: Logger,
    readonly app: App,
    sources: ConfigSources,
  ) {
    this.#sources = sources;
    if (config.configFile) watchFile(config.configFile, { interval: CONFIG_POLL_MS, persistent: false }, this.#onFileChange);
  }

  /**
   * Starts the app with `config`, loaded from `sources` by the caller. A failure to start (a
   * port in use) comes out as a StartupError; bad socket-activation variables as a ConfigError.
   */
  static async start(config: Config, sources: ConfigSources, deps: ServiceDeps): Promise<Service> {
    const log = deps.createLogger(config.logLevel);
    const registry = new Registry();
    const listenFds = listenFdsFrom(sources.env, deps.pid);
    let app: App;
    try {
      app = await deps.startApp(config, listenFds ? { log, registry, listenFds } : { log, registry });
    } catch (err) {
      throw new StartupError('cannot start', err);
    }
    log.info(
      {
        event: 'started',
        version: deps.version,
        listen: app.listenAddresses.map(formatHostPort),
        admin: app.adminAddress ? formatHostPort(app.adminAddress) : null,
        backends: config.backends.map((backend) => backend.address),
        configFile: config.configFile ?? null,
        socketActivated: listenFds !== undefined,
      },
      'kube-local-lb started',
    );
    return new Service(config, log, app, sources);
  }

  /**
   * Reads the config again from the same flags, variables and file. A valid one is applied (the
   * app logs `config_reloaded`); an invalid one is refused (the app logs `config_rejected` with
   * the error line) and the running config kept, so a bad edit never stops the proxy. Resolves
   * when done; never rejects.
   */
  reload(trigger: ReloadTrigger): Promise<void> {
    this.#reloading = this.#reloading.then(() => this.#reloadNow(trigger));
    return this.#reloading;
  }

  async #reloadNow(trigger: ReloadTrigger): Promise<void> {
    if (this.#closing) return;
    this.log.debug({ event: 'config_reload', trigger }, `reloading the config (${trigger})`);
    let next: Config;
    try {
      next = loadConfig(this.#sources.flags, this.#sources.env);
    } catch (err) {
      this.app.rejectReload(err instanceof Error ? err.message : String(err));
      return;
    }
    try {
      await this.app.reload(next);
    } catch (err) {
      // Valid, but the app could not apply all of it (a new listen address in use, say).
      this.app.rejectReload(`${trigger} reload failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.log.level = next.logLevel;
  }

  /** Stops the app: no new clients, sessions get `shutdownGraceMs`, then everything closes. Idempotent. */
  close(signal: string): Promise<void> {
    if (!this.#closing) {
      const { configFile, shutdownGraceMs: graceMs } = this.app.config;
      if (configFile) unwatchFile(configFile, this.#onFileChange);
      this.log.info({ event: 'signal_received', signal }, `${signal}: stopping`);
      this.#closing = this.app.close(graceMs);
    }
    return this.#closing;
  }

  #onFileChange = (current: Stats, previous: Stats): void => {
    // watchFile also reports a poll that saw no change (atime only); inode covers a replaced file.
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    void this.reload('file');
  };
}
