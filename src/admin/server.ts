import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Pool } from '../backends/pool.js';
import type { HostPort } from '../config/schema.js';
import { documentOf } from './document.js';
import type { Logger } from '../log.js';

export interface AdminOptions {
  address: HostPort;
  pool: () => Pool;
  registry: Registry;
  log: Logger;
}

/**
 * The admin endpoint: `/metrics` (Prometheus text), `/livez` (the event loop answers),
 * `/readyz` (200 while a backend is eligible), `/backends` (JSON). Bound to loopback by default:
 * nothing is secret, but it shows the apiserver addresses.
 */
export class AdminServer {
  readonly #server: http.Server;
  #closed = false;

  constructor(private readonly o: AdminOptions) {
    this.#server = http.createServer((req, res) => {
      void this.#handle(req, res).catch((err: unknown) => {
        o.log.error({ event: 'admin_error', err }, 'admin request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    this.#server.keepAliveTimeout = 5000;
  }

  async listen(): Promise<HostPort> {
    const { host, port } = this.o.address;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const a = this.#server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics': {
        const body = await this.o.registry.metrics();
        res.writeHead(200, { 'content-type': this.o.registry.contentType }).end(body);
        return;
      }
      case '/livez':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const pool = this.o.pool();
        if (pool.hasEligible()) {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        } else {
          const states = pool.backends.map((b) => `${b.address} ${b.describe()}`).join('; ');
          res.writeHead(503, { 'content-type': 'text/plain' }).end(`no backend is eligible: ${states}\n`);
        }
        return;
      }
      case '/backends': {
        const pool = this.o.pool();
        const body = JSON.stringify(documentOf(pool), null, 2);
        res.writeHead(200, { 'content-type': 'application/json' }).end(`${body}\n`);
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /livez, /readyz, /backends\n');
    }
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
