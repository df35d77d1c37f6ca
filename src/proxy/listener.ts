import net from 'node:net';
import { formatHostPort } from '../config/address.js';
import type { HostPort } from '../config/schema.js';
import type { Logger } from '../log.js';

/** Where a listener binds: an address, or a socket systemd passed in (`LISTEN_FDS`). */
export type Bind = { kind: 'address'; address: HostPort } | { kind: 'fd'; fd: number };

export interface ListenerOptions {
  bind: Bind;
  log: Logger;
  onConnection: (socket: net.Socket) => void;
}

/** One listening socket. Accepted sockets go to `onConnection`; the sessions are not its. */
export class Listener {
  readonly #server: net.Server;
  #address: HostPort | undefined;
  #closed = false;

  constructor(private readonly o: ListenerOptions) {
    this.#server = net.createServer({
      // The client's FIN is passed to the backend, not answered by closing our side.
      allowHalfOpen: true,
      noDelay: true,
      // The session takes the connection over before anything is read (proxy/reader.ts).
      pauseOnConnect: true,
      // No TCP keepalive on the client side: clients are local processes, whose sockets the
      // kernel closes when they die; the probes would find nothing and cost two syscalls a
      // connection. Backend sockets have keepalive (session.ts).
    });
    this.#server.on('connection', o.onConnection);
  }

  /** Binds; rejects with the bind error (EADDRINUSE, EACCES) so that start-up fails loudly. */
  async listen(): Promise<HostPort> {
    const server = this.#server;
    const bind = this.o.bind;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      const done = () => {
        server.off('error', onError);
        resolve();
      };
      if (bind.kind === 'fd') server.listen({ fd: bind.fd }, done);
      else server.listen({ host: bind.address.host, port: bind.address.port, ipv6Only: bind.address.host.includes(':') }, done);
    });
    // From now on an error (EMFILE on accept, say) is logged; the bind error went to the caller.
    server.on('error', (err) => this.o.log.error({ event: 'listener_error', err }, `listener error: ${err.message}`));
    const a = server.address() as net.AddressInfo;
    this.#address = { host: a.address, port: a.port };
    this.o.log.info({ event: 'listening', address: formatHostPort(this.#address), fd: bind.kind === 'fd' ? bind.fd : undefined },
      `listening on ${formatHostPort(this.#address)}`);
    return this.#address;
  }

  get address(): HostPort | undefined {
    return this.#address;
  }

  /**
   * Stops accepting at once; sessions already accepted are not touched (node's close callback
   * would wait for them, so it is not awaited). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#server.listening) this.#server.close();
  }
}

