import type { Registry } from 'prom-client';
import type { Config, HostPort } from './config/schema.js';
import type { Logger } from './log.js';

/** A running kube-local-lb: listeners, pool, checkers and the admin server. */
export interface App {
  /** Where the listeners are bound (port 0 in the config resolved to the real port). */
  readonly listenAddresses: HostPort[];
  /** Where the admin server is bound, or null when disabled. */
  readonly adminAddress: HostPort | null;
  /** Apply a new, already validated config: backends added or removed, settings updated. */
  reload(config: Config): void;
  /** Stop accepting, let sessions run for up to `graceMs`, then close everything. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

export interface AppOptions {
  log: Logger;
  registry: Registry;
  /** File descriptors of already-listening sockets (systemd socket activation). */
  listenFds?: number[];
}

export async function startApp(_config: Config, _options: AppOptions): Promise<App> {
  throw new Error('not implemented yet');
}
