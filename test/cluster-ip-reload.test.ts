/**
 * The ClusterIP settings on a reload, and sessions counted per listener, in-process (no
 * privilege needed: the interception is asked for only by a reload, which does not start it).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { configChanges } from '../src/config/changes.js';
import { logSink } from './helpers/logs.js';
import { startProxy, testConfig } from './helpers/proxy.js';

test('a changed clusterIP is a section of its own for the reload diff', () => {
  const base = testConfig({ backends: ['10.0.0.1:6443'] });
  const next = { ...base, clusterIp: { ...base.clusterIp, target: { kind: 'address' as const, host: '10.96.0.1', port: 443 } } };
  assert.deepEqual([...configChanges(base, next)], ['clusterIp']);
  assert.deepEqual([...configChanges(base, { ...base, clusterIp: { ...base.clusterIp } })], []);
});

test('a reload that changes clusterIP says a restart is needed and changes neither the interception nor the listeners', async (t) => {
  const logs = logSink('info');
  const lb = await startProxy({ backends: ['127.0.0.1:1'] }, logs);
  t.after(() => lb.close());
  const before = lb.app.listenAddresses;
  const config = lb.app.config;
  await lb.app.reload({ ...config, clusterIp: { ...config.clusterIp, target: { kind: 'address', host: '10.96.0.1', port: 443 } } });
  await logs.waitFor({ event: 'restart_required', setting: 'clusterIP', msg: 'clusterIP changed: the interception stays as it is until kube-local-lb restarts' });
  assert.deepEqual(lb.app.listenAddresses, before);
  assert.equal(logs.find({ event: 'cluster_ip_installed' }), undefined);
  assert.doesNotMatch(await lb.registry.metrics(), /kube_local_lb_cluster_ip_interception_state/);
});

test('sessions are counted per listener and role from the moment it listens', async (t) => {
  const logs = logSink('info');
  const lb = await startProxy({ backends: ['127.0.0.1:1'] }, logs);
  t.after(() => lb.close());
  const listener = `127.0.0.1:${lb.port}`;
  const series = async (name: string): Promise<string | undefined> =>
    (await lb.registry.metrics()).split('\n').find((line) => line.startsWith(`${name}{listener="${listener}",role="listen"}`));
  assert.equal(await series('kube_local_lb_listener_sessions_total'), `kube_local_lb_listener_sessions_total{listener="${listener}",role="listen"} 0`);
  const client = net.connect(lb.port, '127.0.0.1');
  client.on('error', () => undefined);
  // No backend is up: the session is accepted, then ends at once (a reset, hence the error listener).
  await new Promise((resolve) => client.once('close', resolve));
  assert.equal(await series('kube_local_lb_listener_sessions_total'), `kube_local_lb_listener_sessions_total{listener="${listener}",role="listen"} 1`);
  assert.equal(await series('kube_local_lb_listener_sessions'), `kube_local_lb_listener_sessions{listener="${listener}",role="listen"} 0`);
});
