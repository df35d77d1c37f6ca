import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { checkReason, ejectsOnDown } from '../src/backends/transitions.js';
import { pingPath } from '../src/health/checker.js';
import { type HeldSession, holdSession } from './helpers/held-session.js';
import { logSink } from './helpers/logs.js';
import { startProxy } from './helpers/proxy.js';

// How kube-local-lb reads what a real kube-apiserver does (reference/real-apiserver.md, part A):
// an etcd outage makes /readyz slow while /readyz/ping answers at once; a graceful shutdown closes
// the listener at once while old connections are still served; a starting apiserver answers 403.

/**
 * A plain-HTTP apiserver shape: `/readyz` answers after `readyzDelayMs` with `readyzStatus`,
 * `/readyz/ping` at once, any other path its name (`x-backend`). `stopListening` closes the
 * listener only, as Go's http.Server.Shutdown does first: connections already open are served.
 */
async function apiserverShape(t: TestContext, name: string) {
  const state = { readyzDelayMs: 0, readyzStatus: 200, readyzBody: 'ok', pingSilent: false };
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const answer = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain', 'x-backend': name, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.url === '/readyz/ping') {
      if (!state.pingSilent) answer(200, 'ok');
      return;
    }
    if (req.url === '/watch') {
      // A watch: one chunk every 100 ms for as long as the connection lives.
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
      const timer = setInterval(() => res.write('{"type":"BOOKMARK"}\n'), 100);
      res.on('close', () => clearInterval(timer));
      return;
    }
    if (req.url?.startsWith('/readyz')) {
      setTimeout(() => answer(state.readyzStatus, state.readyzBody), state.readyzDelayMs).unref();
      return;
    }
    answer(200, name);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    address: `127.0.0.1:${port}`,
    state,
    /**
   * The listener closes, idle keep-alive connections are closed, busy ones (watches) are served
   * on: what Go's http.Server.Shutdown does first in a graceful shutdown.
   */
    stopListening: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      // server.close waits for open connections; the listener itself is closed at once.
      setImmediate(resolve);
    }),
  };
}

test('pure rules: refusal never ejects, silence does; 401/403 is "not ready" only where another backend accepts the credential', () => {
  assert.equal(ejectsOnDown('refused'), false);
  for (const reason of ['timeout', 'connect_timeout', 'unroutable', 'reset', 'first_byte_timeout', 'tls_handshake'] as const) {
    assert.equal(ejectsOnDown(reason), true, reason);
  }
  assert.equal(checkReason('forbidden', true), 'refused_here');
  assert.equal(checkReason('unauthorized', true), 'refused_here');
  assert.equal(checkReason('forbidden', false), 'forbidden');
  assert.equal(checkReason('ok', true), 'ok');
  assert.equal(checkReason('shutting_down', true), 'shutting_down');
  assert.equal(pingPath('/readyz'), '/readyz/ping');
  assert.equal(pingPath('/livez?verbose'), '/livez/ping');
  assert.equal(pingPath('/healthz/'), '/healthz/ping');
});

test('a /readyz slower than the timeout while /readyz/ping answers is "slow": draining, never down, no session ejected, served in panic', async (t) => {
  const a = await apiserverShape(t, 'a');
  const logs = logSink('info');
  const lb = await startProxy({ backends: [a.address], health: { intervalMs: 200, timeoutMs: 300, fall: 2, rise: 1 } }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  const held = await holdSession(lb.port);
  t.after(() => held.close());
  assert.equal(await held.ask('/'), 'a');
  // etcd goes away: /readyz takes 2-4 s, far past the 300 ms timeout; the ping still answers.
  a.state.readyzDelayMs = 3_000;
  a.state.readyzStatus = 500;
  const draining = await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'draining' }, 5_000);
  assert.equal(draining['reason'], 'slow');
  await logs.waitFor({ event: 'panic_entered' });
  // Several more slow checks: the state holds, the held session is not touched.
  const checksBefore = logs.all({ event: 'backend_state', backend: a.address }).length;
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(logs.all({ event: 'backend_state', backend: a.address }).length, checksBefore, 'no further state change');
  assert.equal(logs.find({ event: 'backend_ejected' }), undefined);
  assert.equal(await held.ask('/'), 'a', 'the held session still works');
  // Panic: a new session is still served by the draining apiserver.
  const fresh = await holdSession(lb.port);
  t.after(() => fresh.close());
  assert.equal(await fresh.ask('/'), 'a');
});

test('a /readyz and a ping that both stay silent are "timeout": down, and the sessions are ejected', async (t) => {
  const a = await apiserverShape(t, 'a');
  const logs = logSink('info');
  const lb = await startProxy({ backends: [a.address], health: { intervalMs: 200, timeoutMs: 300, fall: 2, rise: 1 } }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  const held = await holdSession(lb.port);
  t.after(() => held.close());
  assert.equal(await held.ask('/'), 'a');
  a.state.readyzDelayMs = 60_000;
  a.state.pingSilent = true;
  const down = await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'down' }, 5_000);
  assert.equal(down['reason'], 'timeout');
  assert.ok(logs.find({ event: 'backend_ejected', backend: a.address }));
  await held.closed;
});

test('graceful shutdown: from the first 500 no new session; the listener closing is not a reason to reset sessions the apiserver still serves', async (t) => {
  const a = await apiserverShape(t, 'a');
  const b = await apiserverShape(t, 'b');
  const logs = logSink('info');
  const lb = await startProxy({ backends: [a.address, b.address], balance: 'round-robin', drainTimeoutMs: 60_000,
    health: { intervalMs: 200, timeoutMs: 300, fall: 2, rise: 1 } }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  // Hold sessions until one is on a.
  const held: HeldSession[] = [];
  for (let i = 0; i < 4; i++) held.push(await holdSession(lb.port));
  t.after(() => held.forEach((h) => h.close()));
  const names = await Promise.all(held.map((h) => h.ask('/')));
  const onA = held.filter((_, i) => names[i] === 'a');
  assert.ok(onA.length > 0, `sessions on a: ${names.join(',')}`);
  // Each session on a runs a watch from now on; count what arrives.
  let watchBytes = 0;
  for (const h of onA) {
    h.socket.on('data', (chunk: Buffer) => (watchBytes += chunk.length));
    h.socket.write('GET /watch HTTP/1.1\r\nHost: kubernetes\r\n\r\n');
  }
  // SIGTERM: /readyz 500 at once.
  a.state.readyzStatus = 500;
  a.state.readyzBody = '[-]shutdown failed: reason withheld\nreadyz check failed\n';
  const firstFail = Date.now();
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'draining' }, 5_000);
  // No new session went to a from its first 500 on (the first bad check makes it suspect).
  const after: HeldSession[] = [];
  for (let i = 0; i < 6; i++) after.push(await holdSession(lb.port));
  t.after(() => after.forEach((h) => h.close()));
  assert.deepEqual(await Promise.all(after.map((h) => h.ask('/'))), Array(6).fill('b'));
  // The listener closes (shutdown delay 0): the next checks are refused; the backend is down
  // but its sessions are left alone, and go on being served.
  await a.stopListening();
  const down = await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'down' }, 5_000);
  assert.equal(down['reason'], 'refused');
  assert.ok(logs.find({ event: 'backend_sessions_left', backend: a.address }), logs.text());
  assert.equal(logs.find({ event: 'backend_ejected', backend: a.address }), undefined);
  const bytesAtDown = watchBytes;
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(watchBytes > bytesAtDown, 'the watches still stream from the stopping apiserver');
  for (const h of onA) assert.equal(h.socket.destroyed, false);
  assert.ok(Date.now() - firstFail < 10_000);
});

test('a 403 where another backend accepts the credential is "not ready" (a starting apiserver); where none does, the node stays served', async (t) => {
  const a = await apiserverShape(t, 'a');
  const b = await apiserverShape(t, 'b');
  const logs = logSink('info');
  const lb = await startProxy({ backends: [a.address, b.address], health: { intervalMs: 150, timeoutMs: 300, fall: 2, rise: 2 } }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  // a restarts: RBAC's caches are not synced yet, it answers 403 to the probe credential.
  a.state.readyzStatus = 403;
  a.state.readyzBody = '{"kind":"Status","code":403}';
  const draining = await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'draining' }, 5_000);
  assert.equal(draining['reason'], 'refused_here');
  const sessions: HeldSession[] = [];
  for (let i = 0; i < 4; i++) sessions.push(await holdSession(lb.port));
  t.after(() => sessions.forEach((h) => h.close()));
  assert.deepEqual(await Promise.all(sessions.map((h) => h.ask('/'))), Array(4).fill('b'));
  // Ready: 200 x rise, back up.
  a.state.readyzStatus = 200;
  a.state.readyzBody = 'ok';
  await logs.waitFor({ event: 'backend_state', backend: a.address, from: 'draining', to: 'up' }, 5_000);
  // Now the credential is refused everywhere (revoked): a credential problem, not a dead cluster.
  a.state.readyzStatus = 403;
  b.state.readyzStatus = 403;
  await logs.waitFor({ event: 'backend_check_unauthorized', backend: b.address }, 5_000);
  await new Promise((r) => setTimeout(r, 1_000));
  const last = await holdSession(lb.port);
  t.after(() => last.close());
  assert.match(await last.ask('/'), /^[ab]$/, 'the node is still served');
  assert.equal(lb.app.pool.backends.filter((x) => x.state.kind === 'up').length >= 1, true,
    lb.app.pool.backends.map((x) => `${x.address} ${x.state.kind}`).join(', '));
});

test('one apiserver slow while another is ready (cut from its etcd): its sessions are moved after a grace time; the other\'s are kept', async (t) => {
  const a = await apiserverShape(t, 'a');
  const b = await apiserverShape(t, 'b');
  const logs = logSink('info');
  const health = { intervalMs: 200, timeoutMs: 300, fall: 2, rise: 1 };
  const lb = await startProxy({ backends: [a.address, b.address], balance: 'round-robin', health }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  const held: HeldSession[] = [];
  for (let i = 0; i < 4; i++) held.push(await holdSession(lb.port));
  t.after(() => held.forEach((h) => h.close()));
  const names = await Promise.all(held.map((h) => h.ask('/')));
  const onA = held.filter((_, i) => names[i] === 'a');
  const onB = held.filter((_, i) => names[i] === 'b');
  assert.ok(onA.length > 0 && onB.length > 0, names.join(','));
  a.state.readyzDelayMs = 3_000;
  a.state.readyzStatus = 500;
  const draining = await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'draining' }, 5_000);
  assert.equal(draining['reason'], 'slow');
  const drainingAt = Date.now();
  const ejected = await logs.waitFor({ event: 'backend_ejected', backend: a.address }, 5_000);
  assert.equal(ejected['reason'], 'slow');
  // Not before the grace time (one interval plus one timeout).
  assert.ok(Date.now() - drainingAt >= health.intervalMs + health.timeoutMs - 100, `moved after ${Date.now() - drainingAt} ms`);
  await Promise.all(onA.map((h) => h.closed));
  for (const h of onB) assert.equal(await h.ask('/'), 'b', 'sessions on the ready apiserver are kept');
});
