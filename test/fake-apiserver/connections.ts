import { once } from 'node:events';
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Link } from './link.js';

/** What tests read to see how a backend was used. Live values; see FakeApiserver.resetCounters. */
export interface Counters {
  /** TCP connections accepted by the listener. */
  connectionsAccepted: number;
  /** TLS handshakes completed (a health check that costs a handshake shows here). */
  tlsHandshakes: number;
  /** HTTP/2 sessions started. */
  h2Sessions: number;
  /** Requests that reached the handler, all paths. */
  requests: number;
  /** Requests by URL path (no query). */
  readonly requestsByPath: Map<string, number>;
}

/** A fresh, zeroed {@link Counters}. */
export function newCounters(): Counters {
  return { connectionsAccepted: 0, tlsHandshakes: 0, h2Sessions: 0, requests: 0, requestsByPath: new Map() };
}

/**
 * The listening socket and every connection it accepted: the raw TCP links (which faults act
 * on), the HTTP/2 sessions (which get GOAWAY) and the HTTP/1.1 sockets with their in-flight
 * request counts (idle ones can be closed the way Go's Server.Shutdown does). It owns all of
 * them; `destroyAll` and `closeListener` are safe to call more than once.
 */
export class Connections {
  #listener: Server | null = null;
  #links = new Set<Link>();
  #held = false;
  readonly sessions = new Set<ServerHttp2Session>();
  readonly http1 = new Map<TLSSocket, number>();
  #emptyWaiters: Array<() => void> = [];
  #closeWhenIdle = false;

  constructor(readonly tlsServer: Http2SecureServer, readonly counters: Counters) {
    tlsServer.on('secureConnection', (socket: TLSSocket) => {
      counters.tlsHandshakes += 1;
      if (socket.alpnProtocol !== 'h2') {
        this.http1.set(socket, 0);
        socket.on('close', () => this.http1.delete(socket));
      }
    });
    tlsServer.on('session', (session: ServerHttp2Session) => {
      counters.h2Sessions += 1;
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
    });
  }

  /** Whether the listener is open (connects complete) or closed (connects are refused). */
  get listening(): boolean {
    return this.#listener !== null;
  }

  /** Open connections (TCP links not yet closed). */
  get size(): number {
    return this.#links.size;
  }

  /** Starts listening; resolves with the bound address. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    if (this.#listener) return this.#listener.address() as AddressInfo;
    const listener = createServer({ allowHalfOpen: true }, (raw) => this.#accept(raw));
    listener.listen({ host, port });
    await once(listener, 'listening');
    this.#listener = listener;
    return listener.address() as AddressInfo;
  }

  /** Closes the listening socket: from now on, connects are refused. Accepted connections stay. */
  closeListener(): void {
    this.#listener?.close();
    this.#listener = null;
  }

  /** Holds (blackholes) or releases every connection, present and future. */
  setHeld(held: boolean): void {
    this.#held = held;
    for (const link of this.#links) {
      if (held) link.hold();
      else link.release();
    }
  }

  /** GOAWAY on every HTTP/2 session; each closes once its open streams are done. */
  goawayAll(): void {
    for (const session of this.sessions) if (!session.closed) session.close();
  }

  /**
   * Go's Server.Shutdown for HTTP/1.1: ends the connections with no request in flight now,
   * and from now on each busy one once its last response is written (a watch keeps its
   * connection busy until it ends). Responses written meanwhile say `Connection: close`.
   */
  closeIdleHttp1(): void {
    this.#closeWhenIdle = true;
    for (const [socket, inFlight] of this.http1) if (inFlight === 0) socket.end();
  }

  /** Whether HTTP/1.1 connections close after their response (a shutdown closed the listener). */
  get closingHttp1(): boolean {
    return this.#closeWhenIdle;
  }

  /** Back to keep-alive (a new process after a restart). */
  keepIdleHttp1(): void {
    this.#closeWhenIdle = false;
  }

  /** A request (any, watches included) started on an HTTP/1.1 connection. */
  http1Started(socket: TLSSocket): void {
    if (this.http1.has(socket)) this.http1.set(socket, (this.http1.get(socket) ?? 0) + 1);
  }

  /** A request's response on an HTTP/1.1 connection is over. */
  http1Finished(socket: TLSSocket): void {
    if (!this.http1.has(socket)) return;
    const left = Math.max(0, (this.http1.get(socket) ?? 1) - 1);
    this.http1.set(socket, left);
    if (left === 0 && this.#closeWhenIdle) socket.end();
  }

  /** Aborts every connection with RST. */
  resetAll(): void {
    for (const link of this.#links) link.reset();
  }

  /** Closes every connection with FIN, no goodbye at the HTTP level. */
  destroyAll(): void {
    for (const link of this.#links) link.destroy();
  }

  /** Resolves once no connection is open. */
  whenEmpty(): Promise<void> {
    if (this.#links.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }

  #accept(raw: Socket): void {
    this.counters.connectionsAccepted += 1;
    // Go's listener sets TCP_NODELAY; the apiserver's accepted connections keep alive every 3 min.
    raw.setNoDelay(true);
    raw.setKeepAlive(true, 180_000);
    const link = new Link(raw, this.#held, (closed) => {
      this.#links.delete(closed);
      if (this.#links.size === 0) for (const resolve of this.#emptyWaiters.splice(0)) resolve();
    });
    this.#links.add(link);
    this.tlsServer.emit('connection', link.inner);
  }
}
