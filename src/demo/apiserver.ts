import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, Http2ServerRequest, type Http2SecureServer, type Http2ServerResponse } from 'node:http2';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { TLSSocket } from 'node:tls';
import { apiAnswer, apiRoute, forbiddenAnswer, needsAuthentication, notFoundAnswer, unauthorizedAnswer, wantsTable } from './api.js';
import { GatedConnection } from './gate.js';
import { healthAnswer, healthRoot, type Answer } from './health.js';
import type { DemoPki } from './pki.js';

/** The header that says which imitation answered: the demo's clients count answers by it. */
export const IDENTITY_HEADER = 'X-Demo-Apiserver';

/**
 * What was done to an imitation, each the way a real apiserver fails (wire reference §3, §5):
 * - `serving`: answers everything;
 * - `killed`: the process died: listener closed (connects refused), connections reset;
 * - `blackholed`: the process froze (SIGSTOP, a dead host behind a live switch): connects still
 *   complete in the kernel, nothing is ever answered on new or old connections;
 * - `draining`: graceful shutdown: `/readyz` 500 `[-]shutdown failed`, everything else served.
 */
export type Fault = 'serving' | 'killed' | 'blackholed' | 'draining';

/**
 * A small kube-apiserver imitation for the demo: TLS with ALPN h2 and http/1.1, a kubeadm-shaped
 * serving certificate, client-certificate authentication, the health endpoints and a few API
 * paths, and the faults above. It owns its listener and every connection it accepted.
 */
export class DemoApiserver {
  readonly host = '127.0.0.1';
  /** Requests answered since start. */
  requests = 0;
  #port = 0;
  #fault: Fault = 'serving';
  #listener: Server | null = null;
  readonly #connections = new Set<GatedConnection>();
  readonly #tls: Http2SecureServer;
  #closed = false;

  private constructor(readonly name: string, pki: DemoPki) {
    this.#tls = createSecureServer({
      allowHTTP1: true,
      ALPNProtocols: ['h2', 'http/1.1'],
      minVersion: 'TLSv1.2',
      cert: pki.serving.certPem,
      key: pki.serving.keyPem,
      // As the apiserver: a client certificate is asked for, and verified by the authenticator.
      ca: pki.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      // A held (blackholed) connection must stay open as long as the client keeps it.
      handshakeTimeout: 0,
    });
    this.#tls.on('tlsClientError', () => undefined);
    this.#tls.on('session', (session) => session.on('error', () => undefined));
    this.#tls.on('request', (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => this.#answer(req, res));
  }

  /** Starts an imitation on 127.0.0.1, a free port unless `port` is given. */
  static async start(name: string, pki: DemoPki, port = 0): Promise<DemoApiserver> {
    const server = new DemoApiserver(name, pki);
    server.#port = port;
    await server.#listen();
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return `${this.host}:${this.#port}`;
  }

  get fault(): Fault {
    return this.#fault;
  }

  /** Killed: listener closed, every connection reset. */
  kill(): void {
    this.#fault = 'killed';
    this.#listener?.close();
    this.#listener = null;
    for (const connection of this.#connections) connection.reset();
  }

  /** Frozen: nothing moves on any connection, present or future; connects still complete. */
  async blackhole(): Promise<void> {
    this.#fault = 'blackholed';
    for (const connection of this.#connections) connection.hold();
    await this.#listen();
  }

  /** Graceful shutdown under way: /readyz fails, traffic is still served. */
  async drain(): Promise<void> {
    this.#fault = 'draining';
    for (const connection of this.#connections) connection.release();
    await this.#listen();
  }

  /** Healthy again on the same port; held connections go on where they stopped. */
  async revive(): Promise<void> {
    this.#fault = 'serving';
    for (const connection of this.#connections) connection.release();
    await this.#listen();
  }

  /** Closes the listener and every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener?.close();
    this.#listener = null;
    const closing = [...this.#connections].map((connection) => once(connection.raw, 'close'));
    for (const connection of this.#connections) connection.reset();
    await Promise.all(closing);
  }

  async #listen(): Promise<void> {
    if (this.#listener || this.#closed) return;
    const listener = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (raw) => {
      if (this.#closed) {
        raw.destroy();
        return;
      }
      raw.setNoDelay(true);
      const connection = new GatedConnection(raw, this.#fault === 'blackholed', (closed) => this.#connections.delete(closed));
      this.#connections.add(connection);
      this.#tls.emit('connection', connection.inner);
    });
    listener.listen({ host: this.host, port: this.#port });
    await once(listener, 'listening');
    this.#listener = listener;
    this.#port = (listener.address() as AddressInfo).port;
  }

  #answer(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://kubernetes.invalid');
    const method = req.method ?? 'GET';
    const answer = this.#route(method, url, req);
    this.requests += 1;
    const body = Buffer.from(method === 'HEAD' ? '' : answer.body, 'utf8');
    const headers: Record<string, string> = {
      ...answer.headers,
      [IDENTITY_HEADER]: this.name,
      'Audit-Id': randomUUID(),
      'Cache-Control': 'no-cache, private',
      'Content-Length': String(body.length),
    };
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.writeHead(answer.status);
    res.end(body);
  }

  #route(method: string, url: URL, req: IncomingMessage | Http2ServerRequest): Answer {
    const user = authenticate(req);
    if (user === 'invalid') return unauthorizedAnswer();
    const root = healthRoot(url.pathname);
    // system:public-info-viewer: anyone may GET the health roots and /version.
    if (root) return healthAnswer(root, url.searchParams.has('verbose'), this.#fault === 'draining');
    const route = apiRoute(method, url.pathname);
    if (route && needsAuthentication(route) && user === 'anonymous') return forbiddenAnswer('system:anonymous', url.pathname);
    if (!route) return user === 'anonymous' ? forbiddenAnswer('system:anonymous', url.pathname) : notFoundAnswer();
    const accept = req.headers['accept'];
    return apiAnswer(route, this.address, wantsTable(Array.isArray(accept) ? accept[0] : accept));
  }
}

/**
 * The x509 authenticator: a certificate that chains to the cluster CA is a user (its CN); one
 * that does not is a 401, as any presented credential that fails is; none at all is anonymous.
 */
function authenticate(req: IncomingMessage | Http2ServerRequest): string | 'anonymous' | 'invalid' {
  const socket = req instanceof Http2ServerRequest ? req.stream.session?.socket : req.socket;
  if (!(socket instanceof TLSSocket)) return 'anonymous';
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return 'anonymous';
  if (!socket.authorized) return 'invalid';
  const cn = peer.subject.CN;
  return (Array.isArray(cn) ? cn[0] : cn) ?? 'invalid';
}
