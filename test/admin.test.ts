import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { httpBackend } from './helpers/backends.js';
import { get } from './helpers/http-client.js';
import { logSink } from './helpers/logs.js';
import { parseMetrics, promtoolProblems, value } from './helpers/prometheus.js';
import { startProxyBefore } from './helpers/proxy.js';
import { waitUntil } from './helpers/wait.js';

test('/metrics passes promtool, and its counters move with every state change', async (t) => {
  const a = await httpBackend('a');
  const b = await httpBackend('b');
  const logs = logSink();
  const lb = await startProxyBefore(t, [a, b], { adminListen: { host: '127.0.0.1', port: 0 },
    health: { intervalMs: 100, timeoutMs: 100 } }, logs);
  const admin = lb.app.adminAddress?.port ?? 0;
  const scrape = async () => {
    const r = await get(admin, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    assert.equal(promtoolProblems(r.body), undefined);
    return parseMetrics(r.body);
  };
  await waitUntil(() => logs.all({ event: 'backend_state', to: 'up' }).length === 2, 'both up');
  let m = await scrape();
  assert.equal(value(m, 'kube_local_lb_backend_state', { backend: a.address, state: 'up' }), 1);
  assert.equal(value(m, 'kube_local_lb_backend_state', { backend: a.address, state: 'down' }), 0);
  assert.equal(value(m, 'kube_local_lb_backend_transitions_total', { backend: a.address, from: 'unknown', to: 'up' }), 1);
  assert.ok(value(m, 'kube_local_lb_checks_total', { backend: a.address, verdict: 'pass' }) >= 1);
  assert.ok(value(m, 'kube_local_lb_check_duration_seconds_count', { backend: a.address }) >= 1);
  assert.equal(value(m, 'kube_local_lb_panic'), 0);
  assert.equal(value(m, 'kube_local_lb_build_info', { node_version: process.version }), 1);
  assert.ok(value(m, 'kube_local_lb_process_resident_memory_bytes') > 0, 'default process metrics');

  // Traffic: sessions and bytes are counted per backend.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const held = await get(lb.port, '/', agent);
  for (let i = 0; i < 9; i++) await get(lb.port, '/');
  // The short sessions close just after their answers reach the client.
  await waitUntil(() => lb.app.sessionCount === 1, 'only the held session left open');
  m = await scrape();
  const sessions = value(m, 'kube_local_lb_sessions_total', { backend: a.address }) + value(m, 'kube_local_lb_sessions_total', { backend: b.address });
  assert.equal(sessions, 10);
  const heldOn = held.backend === 'a' ? a.address : b.address;
  assert.equal(value(m, 'kube_local_lb_backend_sessions', { backend: heldOn }), 1);
  assert.ok(value(m, 'kube_local_lb_bytes_total', { backend: heldOn, direction: 'backend_to_client' }) > 0);
  assert.ok(value(m, 'kube_local_lb_connect_duration_seconds_count') >= 10);

  // a goes silent: the state series flip, the transition, the ejected session and the failed
  // checks are counted. (A crash would reset its connections itself: nothing left to eject.)
  const beforeUnreachable = value(m, 'kube_local_lb_checks_total', { backend: a.address, verdict: 'unreachable' });
  a.blackhole();
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'down' });
  m = await scrape();
  assert.equal(value(m, 'kube_local_lb_backend_state', { backend: a.address, state: 'down' }), 1);
  assert.equal(value(m, 'kube_local_lb_backend_state', { backend: a.address, state: 'up' }), 0);
  assert.equal(value(m, 'kube_local_lb_backend_transitions_total', { backend: a.address, from: 'up', to: 'down' }), 1);
  assert.ok(value(m, 'kube_local_lb_checks_total', { backend: a.address, verdict: 'unreachable' }) >= beforeUnreachable + 2);
  assert.equal(value(m, 'kube_local_lb_ejected_sessions_total', { backend: a.address }), heldOn === a.address ? 1 : 0);

  // b drains: panic mode, the last resort, is entered and shown.
  b.setHealth(500);
  await logs.waitFor({ event: 'panic_entered' });
  m = await scrape();
  assert.equal(value(m, 'kube_local_lb_panic'), 1);
  assert.equal(value(m, 'kube_local_lb_backend_state', { backend: b.address, state: 'draining' }), 1);
  b.setHealth(200);
  await logs.waitFor({ event: 'panic_left' });
  assert.equal(value(await scrape(), 'kube_local_lb_panic'), 0);
});

test('/readyz is 503 with the reasons when every backend is down; /livez answers; /backends has no secret', async (t) => {
  const a = await httpBackend('a');
  const logs = logSink();
  const lb = await startProxyBefore(t, [a], { adminListen: { host: '127.0.0.1', port: 0 },
    health: { intervalMs: 100, timeoutMs: 100, auth: 'token', tokenFile: '/nonexistent/token' } }, logs);
  const admin = lb.app.adminAddress?.port ?? 0;
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  assert.equal((await get(admin, '/readyz')).status, 200);
  assert.equal((await get(admin, '/livez')).body, 'ok\n');
  const view = JSON.parse((await get(admin, '/backends')).body) as {
    healthCredential: string; backends: { address: string; state: string; lastCheck: { verdict: string } }[] };
  assert.equal(view.healthCredential, 'bearer token from /nonexistent/token');
  assert.equal(view.backends[0]?.address, a.address);
  assert.equal(view.backends[0]?.state, 'up');
  assert.equal(view.backends[0]?.lastCheck.verdict, 'pass');
  await a.crash();
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'down' });
  const r = await get(admin, '/readyz');
  assert.equal(r.status, 503);
  assert.match(r.body, new RegExp(`${a.address} down: connection refused`));
  assert.equal((await get(admin, '/nope')).status, 404);
});
