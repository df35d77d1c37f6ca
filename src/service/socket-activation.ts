import { ConfigError } from '../config/config-error.js';
import type { Env } from '../config/env.js';

/** systemd passes activated sockets from this descriptor on (sd_listen_fds(3)). */
const SD_LISTEN_FDS_START = 3;

/**
 * The listening sockets systemd handed over (`kube-local-lb.socket`), or undefined when the
 * process was not socket-activated. The variables are only for us when LISTEN_PID is our pid: a
 * child of a socket-activated process inherits them but not the sockets.
 */
export function listenFdsFrom(env: Env, pid: number): number[] | undefined {
  if (env['LISTEN_PID'] === undefined || env['LISTEN_PID'] !== String(pid)) return undefined;
  const text = env['LISTEN_FDS'] ?? '';
  const count = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (count === 0) return undefined;
  if (!(count >= 1 && count <= 1024)) throw new ConfigError('LISTEN_FDS', text, 'is not a count of file descriptors (0-1024)');
  return Array.from({ length: count }, (_, i) => SD_LISTEN_FDS_START + i);
}
