import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { STATE_FILE } from '../src/discovery/state-file.js';
import { h1Request } from './fake-apiserver/index.js';
import { logSink, type LogSink } from './helpers/logs.js';
import { type LoopbackCluster, loopbackCluster } from './helpers/loopback-cluster.js';
import { type TestProxy, startProxy } from './helpers/proxy.js';
import { docsDiscoveryRbac } from './helpers/discovery-rbac.js';
import { waitUntil } from './helpers/wait.js';

const FAST = { scheme: 'https' as const, intervalMs: 100, timeoutMs: 500, rise: 1, fall: 2 };

/** A proxy with discovery on, apiserver-1 as its seed, and `stateDir`. */
async function proxy(t: TestContext, cluster: LoopbackCluster, stateDir: string): Promise<{ lb: TestProxy; logs: LogSink }> {
  const logs = logSink();
  const lb = await startProxy({
    backends: [cluster.apiservers[0]?.address ?? ''],
    health: { ...FAST, caFile: cluster.file('ca.crt', cluster.pki.ca.certPem), auth: 'token', tokenFile: cluster.file('token', cluster.pki.probeToken) },
    discovery: { enabled: true, portOverride: 0, stateDir },
  }, logs);
  t.after(() => lb.close());
  return { lb, logs };
}

/** The state file's backends once it lists `count` of them. */
async function savedBackends(stateDir: string, count: number): Promise<string[]> {
  return waitUntil(() => {
    try {
      const document = JSON.parse(readFileSync(join(stateDir, STATE_FILE), 'utf8')) as { backends: string[] };
      return document.backends.length === count ? document.backends : undefined;
    } catch {
      return undefined;
    }
  }, `${STATE_FILE} listing ${count} backends`);
}

test('restarted while its only seed is dead, the proxy reaches the apiservers the last run discovered', async (t) => {
  const cluster = await loopbackCluster(3, { startup: 'instant', rbac: docsDiscoveryRbac() });
  t.after(() => cluster.close());
  cluster.advertise();
  const [seed, ...others] = cluster.apiservers;
  assert.ok(seed);
  const stateDir = join(cluster.dir, 'state', 'kube-local-lb');

  const first = await proxy(t, cluster, stateDir);
  assert.deepEqual(await savedBackends(stateDir, 3), cluster.apiservers.map((a) => a.address).sort());
  const document = JSON.parse(readFileSync(join(stateDir, STATE_FILE), 'utf8')) as Record<string, unknown>;
  assert.equal(document['version'], 1);
  assert.equal(document['source'], 'endpointslices');
  assert.ok(!Number.isNaN(Date.parse(String(document['savedAt']))));
  await first.lb.close();

  seed.crash();
  const second = await proxy(t, cluster, stateDir);
  const loaded = await second.logs.waitFor({ event: 'discovery_state_loaded' });
  assert.deepEqual(loaded['backends'], cluster.apiservers.map((a) => a.address).sort());
  const answer = await waitUntil(async () => {
    const a = await h1Request({ port: second.lb.port, caPem: cluster.pki.ca.certPem }, '/version').catch(() => undefined);
    return a?.status === 200 ? a : undefined;
  }, 'a request answered through the proxy');
  assert.ok(others.map((a) => a.name).includes(String(answer.headers['x-fake-apiserver'])));
  // Discovery itself goes on through a discovered apiserver.
  const updated = await second.logs.waitFor({ event: 'discovery_updated' });
  assert.notEqual(updated['backend'], seed.address);
});

test('a stale state file only adds backends to check: the first answer replaces it', async (t) => {
  const cluster = await loopbackCluster(2, { startup: 'instant', rbac: docsDiscoveryRbac() });
  t.after(() => cluster.close());
  cluster.advertise();
  const stateDir = join(cluster.dir, 'state');
  mkdirSync(stateDir);
  // An apiserver that was removed from the cluster since (nothing listens there now).
  const gone = `${cluster.apiservers[0]?.host.replace(/\.\d+$/, '.77')}:${cluster.port}`;
  writeFileSync(join(stateDir, STATE_FILE), JSON.stringify({ version: 1, savedAt: '2025-01-01T00:00:00.000Z', source: 'endpointslices', backends: [gone] }));
  const { lb, logs } = await proxy(t, cluster, stateDir);
  assert.ok(logs.find({ event: 'backend_discovered', backend: gone }));
  await logs.waitFor({ event: 'backend_undiscovered', backend: gone });
  await waitUntil(() => !lb.app.pool.backends.some((b) => b.address === gone), 'the stale backend removed');
  assert.deepEqual(await savedBackends(stateDir, 2), cluster.apiservers.map((a) => a.address).sort());
});

test('a corrupt state file is ignored with one warning, then replaced atomically', async (t) => {
  const cluster = await loopbackCluster(2, { startup: 'instant', rbac: docsDiscoveryRbac() });
  t.after(() => cluster.close());
  cluster.advertise();
  const stateDir = join(cluster.dir, 'state');
  mkdirSync(stateDir);
  writeFileSync(join(stateDir, STATE_FILE), '{"version": 1, "backends": ["10.0.0.1:6443"');
  const { logs } = await proxy(t, cluster, stateDir);
  const warning = logs.find({ event: 'discovery_state_ignored' });
  assert.ok(warning);
  assert.equal(warning['level'], 'warn');
  assert.equal(warning['error'], 'not JSON');
  assert.deepEqual(await savedBackends(stateDir, 2), cluster.apiservers.map((a) => a.address).sort());
  assert.equal(logs.all({ event: 'discovery_state_ignored' }).length, 1);
  assert.deepEqual(readdirSync(stateDir), [STATE_FILE], 'no temporary file left behind');
});
