import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';

/**
 * A plain-HTTP stand-in for an apiserver, for proxy tests that do not need TLS: `/readyz`,
 * `/livez`, `/healthz` answer like the apiserver's (200 `ok`, or the configured status), every
 * other path answers the backend's name. Faults are real socket behaviour, not mocks.
 */
export interface HttpBackend {
  name: string;
  port: number;
  address: string;
  /** Status and body of the health endpoints from now on. */
  setHealth(status: number, body?: string): void;
  /** Connects still complete (kernel backlog), nothing is ever answered or closed. */
  blackhole(): void;
  /** Every connection reset, the listener closed: connection refused. */
  crash(): Promise<void>;
  /** Listens again on the same port, healthy. */
  revive(): Promise<void>;
  /** Delay every answer by `ms`. */
  slow(ms: number): void;
  /** Delay the answers to everything but the health endpoints by `ms`: a request in flight while checks pass. */
  slowRequests(ms: number): void;
  healthChecks: number;
  connections: number;
  close(): Promise<void>;
}

export async function httpBackend(name: string, port = 0): Promise<HttpBackend> {
  let status = 200;
  let body = 'ok';
  let blackholed = false;
  let delayMs = 0;
  let requestDelayMs = 0;
  const sockets = new Set<net.Socket>();
  const b: HttpBackend = {
    name,
    port: 0,
    address: '',
    healthChecks: 0,
    connections: 0,
    setHealth(s, text) {
      status = s;
      body = text ?? (s === 200 ? 'ok' : `[-]shutdown failed: reason withheld\nreadyz check failed\n`);
    },
    blackhole() {
      blackholed = true;
      for (const s of sockets) s.pause();
    },
    async crash() {
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
      if (front.listening) await new Promise<void>((r) => front.close(() => r()));
    },
    async revive() {
      blackholed = false;
      status = 200;
      body = 'ok';
      if (!front.listening) {
        front.listen(b.port, '127.0.0.1');
        await once(front, 'listening');
      }
      for (const s of sockets) s.resume();
    },
    slow(ms) {
      delayMs = ms;
    },
    slowRequests(ms) {
      requestDelayMs = ms;
    },
    async close() {
      for (const s of sockets) s.destroy();
      if (front.listening) await new Promise<void>((r) => front.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    if (blackholed) return;
    const answer = () => {
      if (blackholed) return;
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (['/readyz', '/livez', '/healthz'].includes(path)) {
        b.healthChecks++;
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
        return;
      }
      req.resume();
      const reply = () => res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name }).end(name);
      if (requestDelayMs > 0) setTimeout(reply, requestDelayMs);
      else reply();
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
  server.keepAliveTimeout = 90_000;
  // Accepted sockets start paused: while blackholed they are never read, exactly as the
  // sockets of a stopped process (the kernel completes the handshake, nobody reads).
  const front = net.createServer({ pauseOnConnect: true }, (s) => {
    b.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    server.emit('connection', s);
    if (!blackholed) s.resume();
  });
  front.listen(port, '127.0.0.1');
  await once(front, 'listening');
  b.port = (front.address() as net.AddressInfo).port;
  b.address = `127.0.0.1:${b.port}`;
  return b;
}

/** A loopback port nothing listens on: a connect there is refused. */
export async function refusedAddress(): Promise<string> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}

/** A raw TCP backend that, like a TLS server, speaks only after the client: it answers its name. */
export async function namedServer(name: string): Promise<{ address: string; port: number; server: net.Server; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.once('data', () => s.write(name));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
