import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { kubeconfig } from './fake-apiserver/kubeconfig.js';
import { type FakeCluster, fakeCluster } from './helpers/cluster.js';
import { logSink } from './helpers/logs.js';
import { startProxy } from './helpers/proxy.js';
import { waitUntil } from './helpers/wait.js';

const run = promisify(execFile);
const FAST = { scheme: 'https' as const, intervalMs: 100, timeoutMs: 300, rise: 1, fall: 2 };

/** A kubeconfig for the proxy: 127.0.0.1 is in no SAN of the serving certificate, hence tls-server-name. */
function proxyKubeconfig(cluster: FakeCluster, port: number): string {
  return kubeconfig({ server: `https://127.0.0.1:${port}`, caPem: cluster.pki.ca.certPem, tlsServerName: 'kubernetes',
    user: { certPem: cluster.pki.admin.certPem, keyPem: cluster.pki.admin.keyPem } });
}

test('kubectl through the proxy, with tls-server-name, while one of three apiservers is dead', async (t) => {
  const cluster = await fakeCluster(3, { startup: 'instant' });
  t.after(() => cluster.close());
  const [dead] = cluster.apiservers;
  assert.ok(dead);
  cluster.store.add({ namespace: 'default', name: 'web-1' });
  const logs = logSink();
  const lb = await startProxy({ backends: cluster.apiservers.map((a) => a.address),
    health: { ...FAST, caFile: cluster.file('ca.crt', cluster.pki.ca.certPem) } }, logs);
  t.after(() => lb.close());
  // Killed before the proxy has seen it: the first sessions meet a refused connect and are replayed.
  dead.crash();
  const kc = cluster.file('kubeconfig', proxyKubeconfig(cluster, lb.port));
  for (let i = 0; i < 6; i++) {
    const { stdout } = await run('kubectl', ['--kubeconfig', kc, 'get', 'pods', '-o', 'name'], { timeout: 20_000 });
    assert.equal(stdout.trim(), 'pod/web-1');
  }
  const { stdout } = await run('kubectl', ['--kubeconfig', kc, 'get', '--raw', '/readyz'], { timeout: 20_000 });
  assert.equal(stdout.trim(), 'ok');
  await logs.waitFor({ event: 'backend_state', backend: dead.address, to: 'down' });
});

for (const fault of ['crash', 'blackhole'] as const) {
  test(`a watch through the proxy survives its apiserver ${fault === 'crash' ? 'being killed' : 'going silent (blackhole)'}`, async (t) => {
    const cluster = await fakeCluster(3, { startup: 'instant' });
    t.after(() => cluster.close());
    const logs = logSink();
    const lb = await startProxy({ backends: cluster.apiservers.map((a) => a.address), firstByteTimeoutMs: 300,
      health: { ...FAST, caFile: cluster.file('ca.crt', cluster.pki.ca.certPem) } }, logs);
    t.after(() => lb.close());
    await waitUntil(() => logs.all({ event: 'backend_state', to: 'up' }).length === 3, 'all backends up');

    const kc = new KubeConfig();
    kc.loadFromString(proxyKubeconfig(cluster, lb.port));
    const seen: string[] = [];
    let ended = 0;
    let resourceVersion = String(cluster.store.resourceVersion);
    let stopped = false;
    const controllers: AbortController[] = [];
    t.after(() => {
      stopped = true;
      controllers.forEach((c) => c.abort());
    });
    // What a reflector does: on any end of the watch, watch again from the last resourceVersion.
    const watch = async (): Promise<void> => {
      if (stopped) return;
      const c = await new Watch(kc).watch('/api/v1/namespaces/default/pods', { resourceVersion, allowWatchBookmarks: true },
        (type: string, obj: { metadata?: { name?: string; resourceVersion?: string } }) => {
          if (obj.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
          if (type === 'ADDED' && obj.metadata?.name) seen.push(obj.metadata.name);
        },
        () => {
          ended++;
          setTimeout(() => void watch().catch(() => setTimeout(() => void watch(), 100)), 50);
        });
      controllers.push(c);
    };
    await watch();
    cluster.store.add({ namespace: 'default', name: 'before' });
    await waitUntil(() => seen.includes('before'), 'the first event');
    const holder = cluster.apiservers.find((a) => (a.counters.requestsByPath.get('/api/v1/namespaces/default/pods') ?? 0) > 0);
    assert.ok(holder, 'one apiserver serves the watch');
    const faultAt = Date.now();
    if (fault === 'crash') holder.crash();
    else await holder.blackhole();
    cluster.store.add({ namespace: 'default', name: 'after' });
    // Killed: the reset reaches the client at once. Silent: the checks take the backend down
    // (fall x interval + timeout) and the proxy resets the watch, which no client timeout would.
    await waitUntil(() => seen.includes('after'), 'the event after the fault', 5000);
    assert.ok(ended >= 1, 'the old watch ended');
    assert.ok(Date.now() - faultAt < 5000);
    assert.deepEqual(seen, ['before', 'after'], 'no event lost or repeated');
  });
}
