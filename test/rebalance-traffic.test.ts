import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type HttpBackend, httpBackend } from './helpers/backends.js';
import { type HeldSession, holdSession } from './helpers/held-session.js';
import { logSink } from './helpers/logs.js';
import { startProxy, type TestConfig } from './helpers/proxy.js';
import { waitUntil } from './helpers/wait.js';

const health = { intervalMs: 100, timeoutMs: 150, fall: 2, rise: 1 };

/** A proxy with these settings in front of `a` and `b`; it, they and the sessions held close after the test. */
async function behindProxy(t: TestContext, a: HttpBackend, b: HttpBackend, settings: Partial<TestConfig>) {
  const logs = logSink('info');
  const lb = await startProxy({ backends: [a.address, b.address], health, ...settings }, logs);
  const held: HeldSession[] = [];
  t.after(async () => {
    for (const s of held) s.close();
    await lb.close();
    await a.close();
    await b.close();
  });
  return { logs, lb, held };
}

/**
 * Backends `a` and `b` behind a proxy with these settings, `b` down, and `count` sessions held
 * on `a`: the uneven spread that a recovery of `b` leaves.
 */
async function unevenOnA(t: TestContext, settings: Partial<TestConfig>, count: number) {
  const a = await httpBackend('a');
  const b = await httpBackend('b');
  await b.crash();
  const { logs, lb, held } = await behindProxy(t, a, b, settings);
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'down' });
  for (let i = 0; i < count; i++) {
    const s = await holdSession(lb.port);
    held.push(s);
    assert.equal(await s.ask(), 'a');
  }
  return { a, b, logs, lb, held };
}

test('after a recovery a quiet session moves to the recovered backend; one with a request in flight is never closed', async (t) => {
  const { a, b, logs, lb, held } = await unevenOnA(t, { rebalance: true, rebalanceIntervalMs: 1000, rebalanceQuietMs: 300, rebalanceAfterMs: 0 }, 2);
  // Both sessions ask, and `a` takes 3 s to answer: requests in flight, however quiet the wire.
  a.slowRequests(3000);
  const asked = held.map((s) => s.ask('/', 10_000));
  let closedEarly = false;
  for (const s of held) void s.closed.then(() => (closedEarly = true));
  await b.revive();
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  // Uneven (2 and 0) for 2.5 s, looked at every 100-1500 ms: nothing may be closed.
  await sleep(2500);
  assert.equal(closedEarly, false, 'a session with a request in flight was closed');
  assert.equal(logs.find({ event: 'session_rebalanced' }), undefined);
  // The answers come; 300 ms of quiet later one session is closed, after its answer.
  assert.deepEqual(await Promise.all(asked), ['a', 'a']);
  a.slowRequests(0);
  const moved = await logs.waitFor({ event: 'session_rebalanced' }, 5000);
  assert.equal(moved['backend'], a.address);
  assert.equal(moved['to'], b.address);
  assert.equal(moved['why'], 'uneven');
  assert.ok(Number(moved['quietMs']) >= 300, `closed after ${String(moved['quietMs'])} ms of quiet`);
  await Promise.race(held.map((s) => s.closed));
  // The client redials, and least-conn sends it to `b`.
  const again = await holdSession(lb.port);
  held.push(again);
  assert.equal(await again.ask(), 'b');
  const m = await lb.registry.getSingleMetricAsString('kube_local_lb_rebalanced_sessions_total');
  assert.match(m, new RegExp(`backend="${a.address}"} 1\\b`));
  // 2 and 1 are within one of even (one session closed, one redialled): nothing more moves.
  await sleep(2000);
  assert.equal(logs.all({ event: 'session_rebalanced' }).length, 1);
});

test('a session whose client spoke last is never closed to rebalance, even when silent for long', async (t) => {
  const { b, logs, held } = await unevenOnA(t, { rebalance: true, rebalanceIntervalMs: 1000, rebalanceQuietMs: 100, rebalanceAfterMs: 0 }, 3);
  // Half a request: the backend waits for the rest, the client has spoken last.
  for (const s of held) s.socket.write('GET / HTTP/1.1\r\nHost: kubernetes\r\n');
  await b.revive();
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  await sleep(3000);
  for (const s of held) assert.equal(s.socket.destroyed, false);
  assert.equal(logs.find({ event: 'session_rebalanced' }), undefined);
});

test('nothing moves onto a recovered backend before it has been up for --rebalance-after; then quiet sessions do', async (t) => {
  const afterMs = 2500;
  const { a, b, logs, held } = await unevenOnA(t, { rebalance: true, rebalanceIntervalMs: 1000, rebalanceQuietMs: 100, rebalanceAfterMs: afterMs }, 3);
  await b.revive();
  const up = await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  const upAt = Date.parse(String(up['time']));
  // Three quiet sessions on `a`, none on `b`, looked at every 0.5-1.5 s: only the wait holds them.
  const moved = await logs.waitFor({ event: 'session_rebalanced' }, afterMs + 5000);
  assert.equal(moved['backend'], a.address);
  assert.equal(moved['to'], b.address);
  const movedAfter = Date.parse(String(moved['time'])) - upAt;
  assert.ok(movedAfter >= afterMs, `moved ${movedAfter} ms after ${b.address} was up`);
  await Promise.race(held.map((s) => s.closed));
});

test('rebalancing off: uneven sessions stay where they are', async (t) => {
  const { b, logs, held } = await unevenOnA(t, { rebalance: false, rebalanceIntervalMs: 1000, rebalanceQuietMs: 100 }, 3);
  await b.revive();
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  await sleep(2500);
  for (const s of held) assert.equal(s.socket.destroyed, false);
  assert.equal(logs.find({ event: 'session_rebalanced' }), undefined);
});

test('eject spread: sessions of a blackholed backend close at different moments, all within the spread of its last good check', async (t) => {
  const a = await httpBackend('a');
  const b = await httpBackend('b');
  const spreadMs = 1500;
  const { logs, lb, held } = await behindProxy(t, a, b, { ejectSpreadMs: spreadMs });
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  const onA: HeldSession[] = [];
  while (onA.length < 8) {
    const s = await holdSession(lb.port);
    held.push(s);
    if ((await s.ask()) === 'a') onA.push(s);
    assert.ok(held.length < 100);
  }
  const closedAt = onA.map((s) => s.closed.then(() => Date.now()));
  const faultAt = Date.now();
  a.blackhole();
  const times = (await Promise.all(closedAt)).map((at) => at - faultAt);
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'down' });
  // The fault came at most one interval (+20% jitter) after the last good check.
  for (const ms of times) assert.ok(ms <= spreadMs + 100, `closed ${ms} ms after the fault, spread ${spreadMs} ms`);
  const width = Math.max(...times) - Math.min(...times);
  assert.ok(width >= 100, `8 closes within ${width} ms: not spread (${times.join(', ')})`);
  await waitUntil(() => logs.find({ event: 'backend_ejected', backend: a.address }), 'the eject log line');
});
