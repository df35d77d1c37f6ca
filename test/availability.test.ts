import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availabilityOf } from '../src/backends/availability.js';
import { httpBackend } from './helpers/backends.js';
import { get } from './helpers/http-client.js';
import { logSink } from './helpers/logs.js';
import { parseMetrics, value } from './helpers/prometheus.js';
import { startProxyBefore } from './helpers/proxy.js';

test('availability: serving while a backend is up or unknown, panic on draining ones only, all_down on none', () => {
  assert.equal(availabilityOf(['down', 'unknown']), 'serving');
  assert.equal(availabilityOf(['draining', 'up', 'down']), 'serving');
  assert.equal(availabilityOf(['draining', 'down']), 'panic');
  assert.equal(availabilityOf(['down', 'down']), 'all_down');
  assert.equal(availabilityOf([]), 'all_down');
});

test('the last draining backend going down is "every backend down", never "a backend is ready again"', async (t) => {
  const a = await httpBackend('a');
  const b = await httpBackend('b');
  const logs = logSink();
  const lb = await startProxyBefore(t, [a, b], { adminListen: { host: '127.0.0.1', port: 0 },
    health: { intervalMs: 100, timeoutMs: 100 } }, logs);
  const admin = lb.app.adminAddress?.port ?? 0;
  const metrics = async () => parseMetrics((await get(admin, '/metrics')).body);
  await logs.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  assert.equal(value(await metrics(), 'kube_local_lb_all_backends_down'), 0);

  await a.crash();
  b.setHealth(500);
  await logs.waitFor({ event: 'panic_entered' });
  await b.crash();
  const down = await logs.waitFor({ event: 'all_backends_down' });
  assert.equal(down.from, 'panic');
  assert.equal(down.level, 'error');
  assert.equal(logs.find({ event: 'panic_left' }), undefined, 'no backend was ready again');
  let m = await metrics();
  assert.equal(value(m, 'kube_local_lb_all_backends_down'), 1);
  assert.equal(value(m, 'kube_local_lb_panic'), 0);

  await a.revive();
  const back = await logs.waitFor({ event: 'all_backends_down_left' });
  assert.equal(back.to, 'serving');
  assert.equal(logs.find({ event: 'panic_left' }), undefined, 'panic had ended when b went down');
  m = await metrics();
  assert.equal(value(m, 'kube_local_lb_all_backends_down'), 0);
  assert.equal(value(m, 'kube_local_lb_panic'), 0);
});
