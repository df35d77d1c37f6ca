import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { httpBackend, namedServer, refusedAddress } from './helpers/backends.js';
import { get } from './helpers/http-client.js';
import { logSink } from './helpers/logs.js';
import { startProxy } from './helpers/proxy.js';
import { waitUntil } from './helpers/wait.js';

// The TLS record header of a ClientHello: sessions that start with it may be replayed.
const CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);

function firstAnswer(port: number, hello: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', reject);
    c.once('data', (d: Buffer) => {
      resolve(d.toString());
      c.destroy();
    });
    c.write(hello);
  });
}

test('a refused backend is skipped and the session replayed on the next', async (t) => {
  const refused = await refusedAddress();
  const live = await namedServer('live');
  const logs = logSink();
  // Checks far apart: the first session finds the refused backend before any check says so.
  const lb = await startProxy({ backends: [{ address: refused, priority: 0 }, { address: live.address, priority: 1 }],
    health: { intervalMs: 60_000, timeoutMs: 1000, scheme: 'http' } }, logs);
  t.after(async () => {
    await lb.close();
    await live.close();
  });
  assert.equal(await firstAnswer(lb.port, CLIENT_HELLO), 'live');
  assert.ok(logs.find({ event: 'session_replayed', backend: refused, reason: 'refused' }));
  const m = await lb.registry.getSingleMetricAsString('kube_local_lb_replays_total');
  assert.match(m, /reason="refused"} [1-9]/);
});

test('a session that is not TLS is not replayed once its bytes reached a backend: it is ejected with it', async (t) => {
  const silent = await httpBackend('silent');
  const live = await namedServer('live');
  const logs = logSink();
  const lb = await startProxy({ backends: [{ address: silent.address, priority: 0 }, { address: live.address, priority: 1 }],
    firstByteTimeoutMs: 100, health: { intervalMs: 300, timeoutMs: 200 } }, logs);
  t.after(async () => {
    await lb.close();
    await live.close();
    await silent.close();
  });
  await logs.waitFor({ event: 'backend_state', backend: silent.address, to: 'up' });
  silent.blackhole();
  const c = net.connect(lb.port, '127.0.0.1');
  let got = '';
  c.on('data', (d: Buffer) => (got += d.toString()));
  const errors: string[] = [];
  c.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? ''));
  c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  // Default replay policy "tls": plain bytes are the backend's once sent; the first-byte
  // timeout does not apply, and the session ends only when the checks take the backend down.
  await new Promise((r) => c.on('close', r));
  assert.equal(got, '');
  assert.deepEqual(errors, ['ECONNRESET']);
  assert.ok(logs.find({ event: 'backend_state', backend: silent.address, to: 'down' }));
  assert.equal(logs.find({ event: 'session_replayed' }), undefined);
});

test('blackhole: new sessions are replayed and succeed; pinned sessions are ejected within fall x interval + timeout', async (t) => {
  const a = await httpBackend('a');
  const b = await httpBackend('b');
  const logs = logSink();
  const health = { intervalMs: 200, timeoutMs: 150, fall: 2, rise: 1 };
  const lb = await startProxy({ backends: [a.address, b.address], replay: 'always', firstByteTimeoutMs: 300, health }, logs);
  t.after(async () => {
    await lb.close();
    await a.close();
    await b.close();
  });
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  // Long-lived keep-alive sessions, like kubelet's watches, until some are pinned to `a`.
  const agents: http.Agent[] = [];
  t.after(() => agents.forEach((x) => x.destroy()));
  const onA: http.Agent[] = [];
  while (onA.length < 3) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    if ((await get(lb.port, '/', agent)).backend === 'a') onA.push(agent);
    assert.ok(agents.length < 100, 'sessions reach backend a');
  }
  const pinned = onA.map((agent) => Object.values(agent.sockets).flat().concat(Object.values(agent.freeSockets).flat())[0]);
  const closed = pinned.map((s) => new Promise<number>((resolve) => s?.on('close', () => resolve(Date.now()))));
  const faultAt = Date.now();
  a.blackhole();
  // New sessions during the fault all succeed: the ones sent to `a` are replayed on `b`.
  for (let i = 0; i < 10; i++) assert.equal((await get(lb.port, '/')).backend, 'b');
  const closedAt = await Promise.all(closed);
  const bound = health.fall * health.intervalMs * 1.2 + health.timeoutMs + 300;
  for (const at of closedAt) assert.ok(at - faultAt <= bound, `ejected after ${at - faultAt} ms, bound ${bound} ms`);
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'down' });
  assert.ok(logs.find({ event: 'backend_ejected', backend: a.address }));
  const m = await lb.registry.getSingleMetricAsString('kube_local_lb_ejected_sessions_total');
  assert.match(m, new RegExp(`backend="${a.address}"} [3-9]`));
});

test('a backend whose checks are slower than the timeout goes down; one within it stays up', async (t) => {
  const slow = await httpBackend('slow');
  const ok = await httpBackend('ok');
  const logs = logSink();
  const lb = await startProxy({ backends: [slow.address, ok.address], health: { intervalMs: 100, timeoutMs: 150 } }, logs);
  t.after(async () => {
    await lb.close();
    await slow.close();
    await ok.close();
  });
  ok.slow(40);
  slow.slow(400);
  const down = await logs.waitFor({ event: 'backend_state', backend: slow.address, to: 'down' });
  assert.equal(down['reason'], 'timeout');
  for (let i = 0; i < 10; i++) assert.equal((await get(lb.port)).backend, 'ok');
  assert.equal(logs.find({ event: 'backend_state', backend: ok.address, to: 'down' }), undefined);
});

test('a flapping backend does not flap the state: rise and fall hold', async (t) => {
  const flappy = await httpBackend('flappy');
  const logs = logSink();
  // A timeout far above the answer time: the flips, not a loaded machine, decide each verdict.
  const lb = await startProxy({ backends: [flappy.address], health: { intervalMs: 50, timeoutMs: 1000, rise: 2, fall: 2 } }, logs);
  t.after(async () => {
    await lb.close();
    await flappy.close();
  });
  await logs.waitFor({ event: 'backend_state', backend: flappy.address, to: 'up' });
  // Alternate the answer on every check: never two bad in a row.
  let n = 0;
  const flip = setInterval(() => {
    const checks = flappy.healthChecks;
    if (checks !== n) {
      n = checks;
      flappy.setHealth(checks % 2 === 0 ? 200 : 500);
    }
  }, 1);
  t.after(() => clearInterval(flip));
  await waitUntil(() => flappy.healthChecks >= 30, '30 checks', 20_000);
  clearInterval(flip);
  assert.equal(logs.all({ event: 'backend_state', backend: flappy.address }).length, 1, 'only the first transition to up');
  // It did flap: many checks failed, many passed, and the state held through them.
  const { values } = await lb.app.metrics.backends.checks.get();
  const count = (verdict: string) => values.filter((v) => v.labels['backend'] === flappy.address && v.labels['verdict'] === verdict)
    .reduce((sum, v) => sum + v.value, 0);
  assert.ok(count('fail') >= 5, `${count('fail')} checks failed`);
  assert.ok(count('pass') >= 5, `${count('pass')} checks passed`);
  assert.equal(lb.app.pool.backends.find((b) => b.address === flappy.address)?.state.kind, 'up');
});

test('/readyz 500 during graceful shutdown: draining, no new sessions, existing ones finish, then closed after the drain timeout', async (t) => {
  const going = await httpBackend('going');
  const staying = await httpBackend('staying');
  const logs = logSink();
  const lb = await startProxy({ backends: [going.address, staying.address], drainTimeoutMs: 1500,
    health: { intervalMs: 100, timeoutMs: 100 } }, logs);
  t.after(async () => {
    await lb.close();
    await going.close();
    await staying.close();
  });
  await logs.waitFor({ event: 'backend_state', backend: going.address, to: 'up' });
  let agent: http.Agent | undefined;
  for (let i = 0; i < 100 && !agent; i++) {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    if ((await get(lb.port, '/', a)).backend === 'going') agent = a;
    else a.destroy();
  }
  assert.ok(agent, 'a session on the backend that goes');
  t.after(() => agent?.destroy());
  going.setHealth(500);
  const drained = await logs.waitFor({ event: 'backend_state', backend: going.address, to: 'draining' });
  assert.equal(drained['reason'], 'shutting_down');
  // The existing session keeps working through the drain...
  assert.equal((await get(lb.port, '/', agent)).backend, 'going');
  // ...while new sessions go elsewhere...
  for (let i = 0; i < 10; i++) assert.equal((await get(lb.port)).backend, 'staying');
  // ...and after the drain timeout the old session is closed.
  const socket = Object.values(agent.freeSockets).flat()[0];
  assert.ok(socket);
  await new Promise((r) => socket.on('close', r));
  assert.ok(Date.now() - Date.parse(String(drained['time'])) >= 1400);
});

test('401 and 403 keep the backend in service; the metric and the log say why', async (t) => {
  for (const status of [401, 403]) {
    const b = await httpBackend(`s${status}`);
    b.setHealth(status, '{"kind":"Status"}');
    const logs = logSink();
    const lb = await startProxy({ backends: [b.address], health: { intervalMs: 100 } }, logs);
    const line = await logs.waitFor({ event: 'backend_check_unauthorized', backend: b.address });
    assert.equal(line['reason'], status === 401 ? 'unauthorized' : 'forbidden');
    assert.equal(line['level'], 'error');
    await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
    assert.equal((await get(lb.port)).backend, `s${status}`);
    const m = await lb.registry.getSingleMetricAsString('kube_local_lb_backend_check_authorized');
    assert.match(m, new RegExp(`backend="${b.address}"} 0`));
    // One line per change, not one per check.
    await waitUntil(() => b.healthChecks >= 5, 'more checks');
    assert.equal(logs.all({ event: 'backend_check_unauthorized' }).length, 1);
    b.setHealth(200);
    await logs.waitFor({ event: 'backend_check_authorized', backend: b.address });
    await lb.close();
    await b.close();
  }
  void t;
});

test('a failed connect triggers an immediate check, so a dead backend is down long before the next interval', async (t) => {
  const a = await httpBackend('a');
  const b = await httpBackend('b');
  const logs = logSink();
  const lb = await startProxy({ backends: [a.address, b.address], health: { intervalMs: 30_000, timeoutMs: 500 } }, logs);
  t.after(async () => {
    await lb.close();
    await b.close();
  });
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  await a.crash();
  const crashedAt = Date.now();
  // Sessions until one meets the dead backend; each is replayed (refused connects are always safe).
  for (let i = 0; i < 20 && !logs.find({ event: 'session_replayed' }); i++) assert.equal((await get(lb.port)).backend, 'b');
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'down' }, 3000);
  assert.ok(Date.now() - crashedAt < 3000);
});
