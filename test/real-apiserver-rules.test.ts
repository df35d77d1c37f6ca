import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { checkReason, ejectsOnDown, strandsSessions } from '../src/backends/transitions.js';
import { reasonOfAnswer, verdictOf } from '../src/health/verdict.js';
import { pingPath } from '../src/health/checker.js';
import { type HeldSession, holdSession } from './helpers/held-session.js';
import { logSink } from './helpers/logs.js';
import { startProxy, type TestConfig } from './helpers/proxy.js';

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

const FAST = { intervalMs: 200, timeoutMs: 300, fall: 2, rise: 1 };

/** kube-local-lb in front of `backends`, closed when the test ends; resolves once all are up. */
async function proxyInFront(t: TestContext, backends: readonly { address: string }[], settings: Omit<TestConfig, 'backends'> = {}) {
  const logs = logSink('info');
  const lb = await startProxy({ health: FAST, ...settings, backends: backends.map((b) => b.address) }, logs);
  t.after(() => lb.close());
  for (const b of backends) await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  return { lb, logs };
}

/** One held session through the proxy, closed when the test ends, and the backend that answers it. */
async function heldOn(t: TestContext, port: number): Promise<{ session: HeldSession; backend: string }> {
  const session = await holdSession(port);
  t.after(() => session.close());
  return { session, backend: await session.ask('/') };
}

/** `n` held sessions, opened one after another. */
async function heldSessions(t: TestContext, port: number, n: number): Promise<{ session: HeldSession; backend: string }[]> {
  const held = [];
  for (let i = 0; i < n; i++) held.push(await heldOn(t, port));
  return held;
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

test("a 500 is read by the checks it lists as failed, in the real apiserver's words", () => {
  const body = (failed: string[]) =>
    ['ping', 'log', 'etcd', 'etcd-readiness', 'informer-sync', 'poststarthook/rbac/bootstrap-roles', 'shutdown']
      .map((c) => (failed.includes(c) ? `[-]${c} failed: reason withheld` : `[+]${c} ok`)).join('\n') + '\nreadyz check failed\n';
  assert.equal(reasonOfAnswer(500, body(['shutdown'])), 'shutting_down');
  assert.equal(reasonOfAnswer(500, body(['shutdown', 'etcd', 'poststarthook/rbac/bootstrap-roles'])), 'shutting_down');
  assert.equal(reasonOfAnswer(500, body(['etcd', 'etcd-readiness'])), 'etcd_failed');
  assert.equal(reasonOfAnswer(500, body(['etcd', 'poststarthook/rbac/bootstrap-roles'])), 'etcd_failed');
  assert.equal(reasonOfAnswer(500, body(['poststarthook/rbac/bootstrap-roles'])), 'starting');
  assert.equal(reasonOfAnswer(500, body(['informer-sync'])), 'starting');
  assert.equal(reasonOfAnswer(500, 'internal error'), 'shutting_down');
  assert.equal(verdictOf('starting'), 'fail');
  assert.equal(strandsSessions('starting'), false);
});

test('a /readyz slower than the timeout while /readyz/ping answers is "slow": draining, never down, no session ejected, served in panic', async (t) => {
  const a = await apiserverShape(t, 'a');
  const { lb, logs } = await proxyInFront(t, [a]);
  const { session: held, backend } = await heldOn(t, lb.port);
  assert.equal(backend, 'a');
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
  assert.equal((await heldOn(t, lb.port)).backend, 'a');
});

test('a /readyz and a ping that both stay silent are "timeout": down, and the sessions are ejected', async (t) => {
  const a = await apiserverShape(t, 'a');
  const { lb, logs } = await proxyInFront(t, [a]);
  const { session: held, backend } = await heldOn(t, lb.port);
  assert.equal(backend, 'a');
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
  const { lb, logs } = await proxyInFront(t, [a, b], { balance: 'round-robin', drainTimeoutMs: 60_000 });
  const held = await heldSessions(t, lb.port, 4);
  const onA = held.filter((h) => h.backend === 'a').map((h) => h.session);
  assert.ok(onA.length > 0, `sessions on a: ${held.map((h) => h.backend).join(',')}`);
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
  assert.deepEqual((await heldSessions(t, lb.port, 6)).map((h) => h.backend), Array(6).fill('b'));
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
  const { lb, logs } = await proxyInFront(t, [a, b], { health: { ...FAST, intervalMs: 150, rise: 2 } });
  // a restarts: RBAC's caches are not synced yet, it answers 403 to the probe credential.
  a.state.readyzStatus = 403;
  a.state.readyzBody = '{"kind":"Status","code":403}';
  const draining = await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'draining' }, 5_000);
  assert.equal(draining['reason'], 'refused_here');
  assert.deepEqual((await heldSessions(t, lb.port, 4)).map((h) => h.backend), Array(4).fill('b'));
  // Ready: 200 x rise, back up.
  a.state.readyzStatus = 200;
  a.state.readyzBody = 'ok';
  await logs.waitFor({ event: 'backend_state', backend: a.address, from: 'draining', to: 'up' }, 5_000);
  // Now the credential is refused everywhere (revoked): a credential problem, not a dead cluster.
  a.state.readyzStatus = 403;
  b.state.readyzStatus = 403;
  await logs.waitFor({ event: 'backend_check_unauthorized', backend: b.address }, 5_000);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.match((await heldOn(t, lb.port)).backend, /^[ab]$/, 'the node is still served');
  assert.equal(lb.app.pool.backends.filter((x) => x.state.kind === 'up').length >= 1, true,
    lb.app.pool.backends.map((x) => `${x.address} ${x.state.kind}`).join(', '));
});

test('one apiserver slow while another is ready (cut from its etcd): its sessions are moved after a grace time; the other\'s are kept', async (t) => {
  const a = await apiserverShape(t, 'a');
  const b = await apiserverShape(t, 'b');
  const { lb, logs } = await proxyInFront(t, [a, b], { balance: 'round-robin' });
  const held = await heldSessions(t, lb.port, 4);
  const onA = held.filter((h) => h.backend === 'a').map((h) => h.session);
  const onB = held.filter((h) => h.backend === 'b').map((h) => h.session);
  assert.ok(onA.length > 0 && onB.length > 0, held.map((h) => h.backend).join(','));
  a.state.readyzDelayMs = 3_000;
  a.state.readyzStatus = 500;
  const draining = await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'draining' }, 5_000);
  assert.equal(draining['reason'], 'slow');
  const drainingAt = Date.now();
  const ejected = await logs.waitFor({ event: 'backend_ejected', backend: a.address }, 5_000);
  assert.equal(ejected['reason'], 'slow');
  // Not before the grace time (one interval plus one timeout).
  assert.ok(Date.now() - drainingAt >= FAST.intervalMs + FAST.timeoutMs - 100, `moved after ${Date.now() - drainingAt} ms`);
  await Promise.all(onA.map((h) => h.closed));
  for (const h of onB) assert.equal(await h.ask('/'), 'b', 'sessions on the ready apiserver are kept');
});
