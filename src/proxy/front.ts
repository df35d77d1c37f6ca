import type net from 'node:net';
import type { Pool } from '../backends/pool.js';
import { formatHostPort } from '../config/address.js';
import type { Config, HostPort } from '../config/schema.js';
import type { Logger } from '../log.js';
import { type Bind, Listener } from './listener.js';
import type { ListenerRole, PodListenerRole } from './listener-sessions.js';
import type { ProxyMetrics } from './metrics.js';
import { Session, type SessionContext } from './session.js';

export interface FrontOptions {
  pool: Pool;
  metrics: ProxyMetrics;
  log: Logger;
  /** The config as it is now (held by the app): read on every accept and by every session. */
  config: () => Config;
  /** File descriptors of already-listening sockets (systemd socket activation). */
  listenFds?: readonly number[];
}

/**
 * The front door: the listeners and the set of live sessions. It accepts up to
 * `--max-connections` sessions, moves listeners on a reload (new ones bound before gone ones are
 * closed), and at shutdown stops accepting, lets the sessions run for a grace period, then closes
 * the rest. The only owner of its listeners and sessions.
 */
export class Front {
  readonly #o: FrontOptions;
  readonly #log: Logger;
  readonly #sessions = new Set<Session>();
  readonly #listeners = new Map<string, { listener: Listener; role: ListenerRole }>();
  readonly #ctx: SessionContext;
  #closing: Promise<void> | undefined;
  #onIdle: (() => void) | undefined;

  constructor(o: FrontOptions) {
    this.#o = o;
    this.#log = o.log;
    this.#ctx = {
      pool: o.pool,
      metrics: o.metrics,
      log: o.log.child({ component: 'session' }),
      config: o.config,
      onClosed: (s) => {
        this.#sessions.delete(s);
        if (this.#sessions.size === 0) this.#onIdle?.();
      },
    };
    o.metrics.maxConnections.set(o.config().maxConnections);
  }

  /** Where the listeners are bound (port 0 in the config resolved to the real port). */
  get addresses(): HostPort[] {
    return [...this.#listeners.values()].flatMap(({ listener, role }) => (role === 'listen' && listener.address ? [listener.address] : []));
  }

  /** Sessions open now. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Binds the activated sockets, or else every listen address of the config. */
  async open(): Promise<void> {
    const fds = this.#o.listenFds ?? [];
    const binds: Bind[] =
      fds.length > 0
        ? fds.map((fd) => ({ kind: 'fd', fd }))
        : this.#o.config().listen.map((address) => ({ kind: 'address', address }));
    for (const bind of binds) await this.#openListener(bind, 'listen');
  }

  /**
   * Listens on an address held for pods (the ClusterIP, the link-local address): the same
   * sessions as any listener, but its own, so a reload of `listen` never moves it.
   */
  async hold(address: HostPort, role: PodListenerRole): Promise<void> {
    await this.#openListener({ kind: 'address', address }, role);
  }

  async #openListener(bind: Bind, role: ListenerRole): Promise<void> {
    const key = bind.kind === 'fd' ? `fd:${bind.fd}` : formatHostPort(bind.address);
    // Sessions are counted by where the listener is bound (port 0 resolved), or by its fd.
    let label = key;
    const listener = new Listener({ bind, log: this.#log.child({ component: 'listener' }), onConnection: (s) => this.#accept(s, label, role) });
    await listener.listen();
    if (listener.address) label = formatHostPort(listener.address);
    this.#listeners.set(key, { listener, role });
    this.#o.metrics.listenerSessions.opened(label, role);
  }

  #accept(socket: net.Socket, label: string, role: ListenerRole): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#sessions.size >= this.#o.config().maxConnections) {
      this.#o.metrics.rejectedConnections.inc({ reason: 'max_connections' });
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    this.#o.metrics.listenerSessions.track(label, role, socket);
    const session = new Session(socket, this.#ctx);
    this.#sessions.add(session);
    session.start();
  }

  /**
   * Binds what a new config adds before closing what it drops, so the proxy never stops
   * accepting; when one cannot be bound, the ones just bound are closed again and the error
   * thrown, nothing else changed. Sessions accepted on either are not touched. Socket-activated
   * listeners belong to systemd: they stay as they are.
   */
  async move(listen: readonly HostPort[]): Promise<void> {
    if (this.#o.listenFds?.length) return;
    const wanted = new Map(listen.map((a) => [formatHostPort(a), a]));
    const added: string[] = [];
    try {
      for (const [key, address] of wanted) {
        if (this.#listeners.has(key)) continue;
        await this.#openListener({ kind: 'address', address }, 'listen');
        added.push(key);
      }
    } catch (err) {
      for (const key of added) {
        this.#listeners.get(key)?.listener.close();
        this.#listeners.delete(key);
      }
      throw err;
    }
    // The interception's listeners are its own: a reload of `listen` does not move them.
    for (const [key, { listener, role }] of this.#listeners) {
      if (role === 'listen' && !wanted.has(key)) {
        listener.close();
        this.#listeners.delete(key);
      }
    }
  }

  /** The new config is applied: the limit it sets is exported. */
  applied(config: Config): void {
    this.#o.metrics.maxConnections.set(config.maxConnections);
  }

  /** Stops accepting, lets sessions run for up to `graceMs`, then closes the rest. Idempotent. */
  drain(graceMs: number): Promise<void> {
    this.#closing ??= this.#drain(graceMs);
    return this.#closing;
  }

  async #drain(graceMs: number): Promise<void> {
    for (const { listener } of this.#listeners.values()) listener.close();
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
  }
}
