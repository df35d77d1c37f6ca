import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { httpBackend } from './helpers/backends.js';
import { get } from './helpers/http-client.js';
import { logSink } from './helpers/logs.js';
import { startProxy } from './helpers/proxy.js';
import { waitUntil } from './helpers/wait.js';

test('requests pass through and least-conn spreads sessions over every backend', async (t) => {
  const backends = await Promise.all(['a', 'b', 'c'].map((n) => httpBackend(n)));
  const logs = logSink();
  const lb = await startProxy({ backends: backends.map((b) => b.address) }, logs);
  t.after(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });
  await logs.waitFor({ event: 'listening' });
  const seen = new Map<string, number>();
  for (let i = 0; i < 60; i++) {
    const a = await get(lb.port, '/api');
    assert.equal(a.status, 200);
    assert.equal(a.body, a.backend);
    seen.set(a.backend, (seen.get(a.backend) ?? 0) + 1);
  }
  // Sequential sessions are all ties for least-conn: the random tie-break must reach every backend.
  assert.deepEqual([...seen.keys()].sort(), ['a', 'b', 'c']);
});

test('a better priority takes every session while it is up', async (t) => {
  const main = await httpBackend('main');
  const spare = await httpBackend('spare');
  const logs = logSink();
  const lb = await startProxy({ backends: [{ address: main.address, priority: 0 }, { address: spare.address, priority: 1 }] }, logs);
  t.after(async () => {
    await lb.close();
    await main.close();
    await spare.close();
  });
  await logs.waitFor({ event: 'backend_state', backend: main.address, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: spare.address, to: 'up' });
  for (let i = 0; i < 20; i++) assert.equal((await get(lb.port)).backend, 'main');
});

test('FIN is passed through in both directions, and data after a half-close still flows', async (t) => {
  // Backend: echoes upper-cased, and after the client's FIN sends "bye" and closes.
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
    s.on('end', () => s.end('bye'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const logs = logSink();
  const lb = await startProxy({ backends: [`127.0.0.1:${port}`], replay: 'always' }, logs);
  t.after(async () => {
    await lb.close();
    server.close();
  });
  const client = net.connect({ port: lb.port, host: '127.0.0.1', allowHalfOpen: true });
  client.write('hello');
  const [first] = (await once(client, 'data')) as [Buffer];
  assert.equal(first.toString(), 'HELLO');
  let rest = '';
  client.on('data', (d: Buffer) => (rest += d.toString()));
  client.end(); // our FIN must reach the backend, which then answers and closes
  await once(client, 'end');
  assert.equal(rest, 'bye');
  await waitUntil(() => lb.app.sessionCount === 0, 'the session to close');
});

test('a backend RST reaches the client as a reset', async (t) => {
  const server = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const lb = await startProxy({ backends: [`127.0.0.1:${port}`], replay: 'never' }, logSink());
  t.after(async () => {
    await lb.close();
    server.close();
  });
  const client = net.connect(lb.port, '127.0.0.1');
  client.write('x');
  const [err] = (await once(client, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
});

test('a client RST reaches the backend as a reset', async (t) => {
  let backendError: Promise<[NodeJS.ErrnoException]> | undefined;
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => {
      // The session's connection, not one of the health checks' (they send GET /readyz).
      if (d.toString() !== 'x') return;
      backendError = once(s, 'error') as Promise<[NodeJS.ErrnoException]>;
      s.write('ready');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const lb = await startProxy({ backends: [`127.0.0.1:${port}`], replay: 'never' }, logSink());
  t.after(async () => {
    await lb.close();
    server.close();
  });
  const client = net.connect(lb.port, '127.0.0.1');
  client.write('x');
  await once(client, 'data');
  client.resetAndDestroy();
  const errored = await waitUntil(() => backendError, 'the backend connection');
  const [err] = await errored;
  assert.equal(err.code, 'ECONNRESET');
});

test('with no eligible backend the client is closed at once and it is counted', async (t) => {
  const b = await httpBackend('b');
  await b.crash();
  const logs = logSink();
  const lb = await startProxy({ backends: [b.address], health: { fall: 1 } }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'down' });
  const client = net.connect(lb.port, '127.0.0.1');
  const started = Date.now();
  const errors: string[] = [];
  client.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? ''));
  await new Promise((resolve) => client.on('close', resolve));
  // A reset, so that the client retries at once rather than reading an empty answer.
  assert.deepEqual(errors, ['ECONNRESET']);
  assert.ok(Date.now() - started < 1000, 'closed at once, not left hanging');
  const metrics = await lb.registry.getSingleMetricAsString('kube_local_lb_rejected_connections_total');
  assert.match(metrics, /reason="no_backend"} 1/);
});

test('past --max-connections new clients are refused and counted; held sessions keep working', async (t) => {
  const b = await httpBackend('b');
  const logs = logSink();
  const lb = await startProxy({ backends: [b.address], maxConnections: 2 }, logs);
  t.after(async () => {
    await lb.close();
    await b.close();
  });
  const agents = [new http.Agent({ keepAlive: true, maxSockets: 1 }), new http.Agent({ keepAlive: true, maxSockets: 1 })];
  t.after(() => agents.forEach((a) => a.destroy()));
  for (const a of agents) assert.equal((await get(lb.port, '/', a)).backend, 'b');
  const third = net.connect(lb.port, '127.0.0.1');
  third.on('error', () => undefined);
  await once(third, 'close');
  for (const a of agents) assert.equal((await get(lb.port, '/', a)).backend, 'b');
  const metrics = await lb.registry.getSingleMetricAsString('kube_local_lb_rejected_connections_total');
  assert.match(metrics, /reason="max_connections"} 1/);
});
