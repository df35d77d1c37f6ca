import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { realClusterOrSkip, startRealCluster, type RealCluster } from '../helpers/real-cluster.js';
import type { LogFields } from '../helpers/lb-process.js';
import { kubectlLoop, startNodeLb } from '../helpers/real-node.js';

// Discovery (--discover) against three real kube-apiservers with --endpoint-reconciler-type=lease
// (issue 13). Each apiserver keeps a lease on its own address in etcd (TTL 15 s, renewed every
// 10 s; pkg/controlplane/instance.go, DefaultEndpointReconcilerTTL and ...Interval, not settable
// by any flag) and every 10 s writes the live leases into the `kubernetes` Endpoints and
// EndpointSlice. A killed apiserver's lease expires and a survivor removes it from the slice 5-25 s
// after the kill; a started one adds itself once it is ready. kube-local-lb, seeded with the
// first apiserver only, follows the slice: the two others are discovered, the killed one is
// removed (drained) and discovered again when it is back, while kubectl through it never fails.
//
// The credential is what docs/discovery.md prescribes for real RBAC: kube-local-lb's own user
// (a client certificate with CN kube-local-lb, in a kubeconfig, as docs/install-kubeadm.md makes
// it) with the docs' Role and RoleBinding. Kubelet's credential is refused by real RBAC (nodes
// get no list or watch of EndpointSlices): the second test shows what kube-local-lb does then.

const { binaries, skip } = realClusterOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('real apiservers, lease reconciler: discovery follows the kubernetes EndpointSlice', { skip, timeout: 600_000 }, () => {
  let c: RealCluster;
  before(async () => {
    c = await startRealCluster(binaries!, { reconciler: 'lease', anonymousAuth: true });
  }, { timeout: 300_000 });
  after(() => c?.stop());

  const sliceIps = async (): Promise<string[]> => {
    const r = await c.adminKubectl(['get', 'endpointslice', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.endpoints[*].addresses[*]}']);
    return r.stdout.trim().split(/\s+/).filter(Boolean).sort();
  };
  const waitSlice = async (want: string[], ms: number): Promise<number> => {
    const began = Date.now();
    while (Date.now() - began < ms) {
      if ((await sliceIps()).join() === [...want].sort().join()) return Date.now() - began;
      await sleep(500);
    }
    throw new Error(`the kubernetes EndpointSlice did not list ${want.join(',')} within ${ms} ms: ${(await sliceIps()).join(',')}`);
  };

  test('an apiserver killed leaves the list when its lease expires and comes back when started; kubectl never fails', { timeout: 300_000 }, async () => {
    const rbac = /```yaml\n(apiVersion: rbac[\s\S]*?)```/.exec(readFileSync(new URL('../../../docs/discovery.md', import.meta.url), 'utf8'))?.[1];
    assert.ok(rbac, 'docs/discovery.md has the Role and RoleBinding');
    const applied = await c.adminKubectl(['apply', '-f', '-'], rbac);
    assert.equal(applied.code, 0, applied.stderr);
    await waitSlice(c.apiservers.map((a) => a.ip), 60_000);

    const seed = c.apiservers[0]!;
    const gone = c.apiservers[2]!;
    const klbKc = c.kubeconfig('kube-local-lb', `https://${seed.address}`, { cert: c.creds.healthCert, key: c.creds.healthKey });
    const lb = await startNodeLb(c, ['--backend', seed.address, '--discover', '--health-auth', 'kubeconfig', '--health-kubeconfig', klbKc]);
    const adminKc = c.kubeconfig('admin-lb', 'https://127.0.0.1:6444', { token: c.creds.adminToken });
    let loop: ReturnType<typeof kubectlLoop> | undefined;
    const timeline: string[] = [];
    /** When `r` was logged (or now), in seconds after `since`. */
    const mark = (what: string, since: number, r?: LogFields) =>
      timeline.push(`${(((r ? Date.parse(String(r['time'])) : Date.now()) - since) / 1000).toFixed(1)} s ${what}`);
    const report = (): string => `${timeline.join('\n')}\nkube-local-lb:\n` + lb.records
      .filter((r) => /^(backend_|discovery_)/.test(String(r['event'])))
      .map((r) => JSON.stringify(r)).join('\n');
    try {
      for (const a of c.apiservers.slice(1)) await lb.waitFor({ event: 'backend_discovered', backend: a.address, seed: false }, 30_000);
      await lb.waitUp(3, 60_000);
      loop = kubectlLoop(c, adminKc, ['get', 'pods', '-n', 'default']);
      await sleep(2_000);

      const from = lb.records.length;
      const killedAt = Date.now();
      c.signal(gone.index, 'SIGKILL');
      await gone.proc?.exit;
      mark(`${gone.address} down in kube-local-lb`, killedAt,
        await lb.waitFor({ event: 'backend_state', backend: gone.address, to: 'down' }, 30_000, from));
      const undiscovered = await lb.waitFor({ event: 'backend_undiscovered', backend: gone.address }, 45_000, from);
      mark(`${gone.address} undiscovered`, killedAt, undiscovered);
      const removed = await lb.waitFor({ event: 'backend_removed', backend: gone.address }, 5_000, from);
      const removedMs = Date.parse(String(removed['time'])) - killedAt;
      assert.equal(undiscovered['seed'], false);
      assert.ok(!(await sliceIps()).includes(gone.ip), 'kube-local-lb removed it because the slice no longer lists it');
      // The lease TTL: never before the lease could expire (15 s after its last renewal, which
      // was at most 10 s before the kill), and within one reconcile interval after it did.
      assert.ok(removedMs >= 5_000 && removedMs <= 30_000, `removed ${removedMs} ms after the kill\n${report()}`);
      const views = await lb.backends();
      assert.deepEqual(views.map((v) => v.address).sort(), [seed.address, c.apiservers[1]!.address].sort(), JSON.stringify(views));
      assert.equal(await lb.metric('kube_local_lb_discovered_backends'), 2);

      const startedAt = Date.now();
      const back = lb.records.length;
      await c.startApiserver(gone.index);
      await c.waitReady(gone.index);
      mark(`${gone.address} /readyz 200 (admin, polled)`, startedAt);
      mark(`${gone.address} discovered again`, startedAt,
        await lb.waitFor({ event: 'backend_discovered', backend: gone.address, seed: false }, 45_000, back));
      mark(`${gone.address} up in kube-local-lb`, startedAt,
        await lb.waitFor({ event: 'backend_state', backend: gone.address, to: 'up' }, 30_000, back));
      assert.equal(await lb.metric('kube_local_lb_discovered_backends'), 3);
      await lb.waitUp(3, 10_000);
      await sleep(2_000);
      await loop.stop();

      const errors = lb.records.filter((r) => r['event'] === 'discovery_error' && ['forbidden', 'unauthorized'].includes(String(r['reason'])));
      assert.deepEqual(errors, [], report());
      assert.deepEqual(loop.failures, [], report());
      assert.ok(loop.calls > 40, `${loop.calls} kubectl calls\n${report()}`);
      console.log(`# discovery: ${timeline.join('; ')}; removed ${removedMs} ms after the kill; kubectl ${loop.failures.length}/${loop.calls} failed`);
    } finally {
      await loop?.stop();
      await lb.stop();
    }
  });

  test('kubelet\'s credential: RBAC refuses the discovery list, kube-local-lb says so and keeps its seeds', { timeout: 120_000 }, async () => {
    const seeds = c.apiservers.slice(0, 2);
    const lb = await startNodeLb(c, [...seeds.flatMap((a) => ['--backend', a.address]), '--discover',
      '--health-auth', 'client-cert', '--health-client-cert', c.creds.nodeCertAndKey, '--health-client-key', c.creds.nodeCertAndKey]);
    try {
      const refused: LogFields = await lb.waitFor({ event: 'discovery_error', reason: 'forbidden' }, 30_000);
      assert.equal(refused['level'], 'error', JSON.stringify(refused));
      assert.match(String(refused['error']), /endpointslices.*HTTP 403.*system:node:sim-node/, JSON.stringify(refused));
      await lb.waitUp(2, 30_000);
      assert.ok(await lb.metric('kube_local_lb_discovery_errors_total', { reason: 'forbidden' }) >= 1);
      const views = await lb.backends();
      assert.deepEqual(views.map((v) => v.address).sort(), seeds.map((a) => a.address).sort(), 'the third apiserver is not discovered');
      const kc = c.kubeconfig('admin-lb2', 'https://127.0.0.1:6444', { token: c.creds.adminToken });
      const r = await c.nodeRun('kubectl', ['--kubeconfig', kc, 'get', '--raw', '/version']);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await lb.stop();
    }
  });
});
