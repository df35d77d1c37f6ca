// The plain Node proxy (node-pipe.mjs) plus the runtime that `run` cannot do without, and none of
// kube-local-lb's own code: HTTPS checks of each backend's /readyz every second (Node's https
// client, a CA file, SNI "kubernetes"), an admin HTTP server serving prom-client's default
// metrics, and a pino logger. bench/memory-floor.mjs measures it beside `run`, so that the idle
// memory `run` holds over a bare relay is split into what these cost and what kube-local-lb adds.
// usage: node bench/lib/deps-pipe.mjs LISTEN_PORT CA_FILE HOST:PORT...
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import pino from 'pino';
import client from 'prom-client';

const [port, caFile, ...backends] = process.argv.slice(2);
const log = pino({ level: 'info' });
const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 500 });
const ca = readFileSync(caFile);

let next = 0;
net
  .createServer({ allowHalfOpen: true, noDelay: true }, (c) => {
    const [host, bport] = backends[next++ % backends.length].split(':');
    const up = net.connect({ host, port: Number(bport), allowHalfOpen: true, noDelay: true });
    c.pipe(up);
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  })
  .listen(Number(port), '127.0.0.1');
http.createServer(async (_req, res) => res.end(await registry.metrics())).listen(0, '127.0.0.1');

const state = new Map();
setInterval(() => {
  for (const b of backends) {
    const [host, bport] = b.split(':');
    const req = https.get({ host, port: Number(bport), path: '/readyz', ca, servername: 'kubernetes', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      const up = res.statusCode === 200;
      if (state.get(b) !== up) log.info({ backend: b, up }, 'backend state');
      state.set(b, up);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => state.set(b, false));
  }
}, 1000);
process.on('SIGTERM', () => process.exit(0));
