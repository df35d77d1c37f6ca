import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { realClusterOrSkip, startRealCluster, type RealCluster } from '../helpers/real-cluster.js';
import { kubectlLoop, startNodeLb } from '../helpers/real-node.js';

// The failure kube-local-lb exists for: with --endpoint-reconciler-type=master-count and
// --apiserver-count=3, a dead apiserver stays in the `kubernetes` Endpoints and EndpointSlice,
// so whatever follows them sends it traffic. kube-local-lb, discovering from the same slice,
// keeps it listed but sends it nothing.

const { binaries, skip } = realClusterOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('real apiservers, --endpoint-reconciler-type=master-count --apiserver-count=3', { skip, timeout: 600_000 }, () => {
  let c: RealCluster;
  before(async () => {
    c = await startRealCluster(binaries!, { reconciler: 'master-count', apiserverCount: 3, anonymousAuth: true });
  }, { timeout: 300_000 });
  after(() => c?.stop());

  test('a killed apiserver stays in the kubernetes Endpoints, and kube-local-lb sends it nothing', { timeout: 240_000 }, async () => {
    const rbac = /```yaml\n(apiVersion: rbac[\s\S]*?)```/.exec(readFileSync(new URL('../../../docs/discovery.md', import.meta.url), 'utf8'))?.[1];
    assert.ok(rbac);
    const applied = await c.adminKubectl(['apply', '-f', '-'], rbac);
    assert.equal(applied.code, 0, applied.stderr);
    const all = c.apiservers.map((a) => a.ip).sort();
    const endpointIps = async (): Promise<string[]> => {
      const r = await c.adminKubectl(['get', 'endpointslice', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.endpoints[*].addresses[*]}']);
      return r.stdout.trim().split(/\s+/).filter(Boolean).sort();
    };
    // master-count lists every apiserver once all three have started.
    for (let i = 0; i < 60 && (await endpointIps()).join() !== all.join(); i++) await sleep(1_000);
    assert.deepEqual(await endpointIps(), all);

    const lb = await startNodeLb(c, ['--backend', c.apiservers[0]!.address, '--discover',
      '--health-auth', 'token', '--health-token-file', c.creds.discoverTokenFile]);
    try {
      await lb.waitUp(3, 60_000);
      const dead = c.apiservers[2]!;
      c.signal(2, 'SIGKILL');
      await dead.proc?.exit;
      await lb.waitFor({ event: 'backend_state', backend: dead.address, to: 'down' }, 30_000);
      const before = await lb.metric('kube_local_lb_sessions_total', { backend: dead.address });
      const kc = c.kubeconfig('admin-lb', 'https://127.0.0.1:6444', { token: c.creds.adminToken });
      const loop = kubectlLoop(c, kc, ['get', 'pods', '-n', 'default']);
      // Three reconciler intervals: master-count does not remove the dead apiserver.
      await sleep(30_000);
      await loop.stop();
      assert.deepEqual(await endpointIps(), all, 'master-count keeps the dead apiserver listed');
      const views = await lb.backends();
      assert.equal(views.find((b) => b.address === dead.address)?.state, 'down', JSON.stringify(views));
      assert.equal(views.length, 3, 'the discovered list still holds the dead apiserver');
      assert.equal(await lb.metric('kube_local_lb_sessions_total', { backend: dead.address }), before, 'no session to the dead apiserver');
      assert.deepEqual(loop.failures, []);
      assert.ok(loop.calls > 20);
    } finally {
      await lb.stop();
    }
  });
});
