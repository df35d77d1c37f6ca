import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAIN } from '../cli-spawn.js';
import { commandExists } from '../helpers/command-exists.js';
import { addPod, probeFrom, type ProbeOutcomes } from '../helpers/pod-network.js';
import { realClusterOrSkip, startRealCluster, type RealCluster } from '../helpers/real-cluster.js';
import { ADMIN, kubectlLoop, startNodeLb } from '../helpers/real-node.js';

// The failure --cluster-ip exists for, with nothing imitated: a real kube-proxy (iptables mode,
// built from the same k8s.io/kubernetes module as the apiservers) in the node namespace, three
// real apiservers with --endpoint-reconciler-type=master-count --apiserver-count=3, one of them
// SIGKILLed and still listed in the `kubernetes` EndpointSlice, and a pod behind a veth calling
// the Service's ClusterIP. kube-proxy alone DNATs about a third of the connections to the dead
// apiserver; kube-local-lb with --cluster-ip takes them before kube-proxy's DNAT and none fail.
// Then the same dead apiserver seen by kube-local-lb's discovery, which follows that slice: it
// stays listed, and gets nothing.

const cluster = realClusterOrSkip();
const { binaries } = cluster;
/** kube-proxy's iptables mode runs iptables-restore; the test reads its rules with iptables-save. */
function iptablesMissing(): string | false {
  if (cluster.skip || commandExists('iptables-save')) return false;
  if (process.env['CI'] === 'true') throw new Error('CI=true but iptables-save is not installed');
  return 'iptables-save is not installed';
}
const skip = cluster.skip || iptablesMissing();
const N = 60;
/** The pods' range (kube-proxy's --cluster-cidr); the pod's /30 is its first. */
const POD_CIDR = '10.244.0.0/16';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface KubeProxy {
  child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

function startKubeProxy(c: RealCluster, bin: string, kubeconfig: string): KubeProxy {
  const child = c.nodeSpawn(bin, [
    '--kubeconfig', kubeconfig, '--proxy-mode=iptables', `--hostname-override=${c.creds.nodeName}`,
    '--detect-local-mode=ClusterCIDR', `--cluster-cidr=${POD_CIDR}`,
    // nf_conntrack_max is the init namespace's (read-only here): leave it, and the timeouts, as they are.
    '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0',
    '--healthz-bind-address=127.0.0.1:10256', '--metrics-bind-address=127.0.0.1:10249', '--oom-score-adj=0', '--v=2',
  ]);
  // The whole log in the cluster's directory (kept with KLB_KEEP_CLUSTER_DIR=1), its end in failure messages.
  const file = join(c.dir, 'kube-proxy.log');
  let log = '';
  const keep = (chunk: Buffer) => {
    appendFileSync(file, chunk);
    log = (log + chunk.toString()).slice(-40_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // 'close', not 'exit': the last output is written before the cluster's directory is removed.
  const exit = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    child,
    log: () => log.split('\n').slice(-40).join('\n'),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}

describe('real kube-proxy (iptables mode), real apiservers (master-count), one killed: the kubernetes ClusterIP from a pod', { skip, timeout: 900_000 }, () => {
  let c: RealCluster;
  let proxy: KubeProxy | undefined;
  let pod = '';
  let clusterIp = '';
  /** When apiserver-3 was killed (the first test kills it; the second relies on it staying dead). */
  let killedAt = 0;
  before(async () => {
    c = await startRealCluster(binaries!, { reconciler: 'master-count', apiserverCount: 3, anonymousAuth: true });
    pod = `${c.id}p`;
    addPod({ node: c.nodeNs, pod, nodeIf: 'pod0', podIf: 'eth0', nodeIp: '10.244.0.1', podIp: '10.244.0.2' });
    // The node forwards the pod's traffic; the apiservers route the pods' range back through the
    // node, as a CNI's routes would.
    execFileSync('ip', ['netns', 'exec', c.nodeNs, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    for (const a of c.apiservers) execFileSync('ip', ['-n', a.ns, 'route', 'add', POD_CIDR, 'via', c.nodeIp]);
  }, { timeout: 300_000 });
  after(async () => {
    await proxy?.stop();
    if (pod) spawnSync('ip', ['netns', 'del', pod]);
    await c?.stop();
  });

  const probe = (count: number): Promise<ProbeOutcomes> => probeFrom(pod, count, c.creds.caFile, 3_000, `${clusterIp}:443`);
  const inNode = (cmd: string, args: string[]) => execFileSync('ip', ['netns', 'exec', c.nodeNs, cmd, ...args], { encoding: 'utf8' });
  /** The DNAT targets of kube-proxy's rules for default/kubernetes:https. */
  const dnatTargets = (): string[] =>
    inNode('iptables-save', ['-t', 'nat']).split('\n')
      .filter((l) => l.includes('default/kubernetes:https') && l.includes('-j DNAT'))
      .map((l) => /--to-destination (\S+)/.exec(l)?.[1] ?? '').sort();
  const endpointIps = async (): Promise<string[]> => {
    const r = await c.adminKubectl(['get', 'endpointslice', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.endpoints[*].addresses[*]}']);
    return r.stdout.trim().split(/\s+/).filter(Boolean).sort();
  };
  const hasTable = () => inNode('nft', ['list', 'tables']).includes('kube_local_lb');
  const hasAddress = () => inNode('ip', ['-o', 'addr', 'show', 'dev', 'lo']).includes(`${clusterIp}/32`);

  test('kube-proxy alone refuses about a third of the connections to the dead apiserver; with --cluster-ip none fail; SIGTERM hands the path back', { timeout: 600_000 }, async (t) => {
    const svc = await c.adminKubectl(['get', 'service', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.spec.clusterIP} {.spec.sessionAffinity}']);
    assert.equal(svc.code, 0, svc.stderr);
    const [ip = '', affinity] = svc.stdout.trim().split(' ');
    clusterIp = ip;
    assert.match(clusterIp, /^10\.96\./);
    assert.equal(affinity, 'None', 'each connection is balanced on its own');
    // The Node object kube-proxy looks up for its node IP (it waits 30 s for one otherwise).
    const node = await c.adminKubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Node', metadata: { name: c.creds.nodeName },
      status: { addresses: [{ type: 'InternalIP', address: c.nodeIp }] },
    }));
    assert.equal(node.code, 0, node.stderr);

    const all = c.apiservers.map((a) => a.ip).sort();
    for (let i = 0; i < 60 && (await endpointIps()).join() !== all.join(); i++) await sleep(1_000);
    assert.deepEqual(await endpointIps(), all, 'master-count lists the three apiservers');

    // kube-proxy talks to the first apiserver, which stays up.
    const kc = c.kubeconfig('kube-proxy', `https://${c.apiservers[0]!.address}`, { token: c.creds.proxyToken });
    proxy = startKubeProxy(c, binaries!['kube-proxy'], kc);
    const targets = c.apiservers.map((a) => a.address).sort();
    for (let i = 0; i < 120 && dnatTargets().join() !== targets.join(); i++) {
      assert.equal(proxy.child.exitCode, null, `kube-proxy exited:\n${proxy.log()}`);
      await sleep(500);
    }
    assert.deepEqual(dnatTargets(), targets, `kube-proxy's DNAT for the ClusterIP, one rule per apiserver:\n${proxy.log()}`);

    const healthy = await probe(N);
    t.diagnostic(`kube-proxy, all three apiservers up: ${N - healthy.ok} of ${N} failed (${JSON.stringify(healthy)})`);
    assert.equal(healthy.ok, N, `the pod reaches the apiservers through kube-proxy: ${JSON.stringify(healthy)}`);

    const dead = c.apiservers[2]!;
    c.signal(2, 'SIGKILL');
    await dead.proc?.exit;
    killedAt = Date.now();
    // A reconciler interval and a kube-proxy sync: master-count keeps the dead apiserver, so does kube-proxy.
    await sleep(12_000);
    assert.deepEqual(await endpointIps(), all, 'master-count keeps the killed apiserver listed');
    assert.deepEqual(dnatTargets(), targets, 'kube-proxy still DNATs to the killed apiserver');

    const without = await probe(N);
    t.diagnostic(`kube-proxy alone, ${dead.name} killed: ${without.refused} of ${N} refused, ${without.ok} answered (${JSON.stringify(without)})`);
    assert.equal(without.ok + without.refused, N, JSON.stringify(without));
    assert.ok(without.refused >= N * 0.1 && without.refused <= N * 0.6, `about a third refused: ${JSON.stringify(without)}`);

    const lb = await startNodeLb(c, [...c.apiservers.flatMap((a) => ['--backend', a.address]), '--health-auth', 'anonymous',
      '--cluster-ip', clusterIp, '--cluster-ip-interface', 'lo', '--shutdown-grace', '1s']);
    try {
      await lb.waitFor({ event: 'cluster_ip_installed' }, 20_000);
      await lb.waitFor({ event: 'backend_state', backend: dead.address, to: 'down' }, 30_000);
      await lb.waitUp(2, 30_000);
      assert.ok(hasTable() && hasAddress(), 'table and address in place');

      const withLb = await probe(N);
      t.diagnostic(`kube-proxy and kube-local-lb --cluster-ip ${clusterIp}: ${N - withLb.ok} of ${N} failed (${JSON.stringify(withLb)})`);
      assert.equal(withLb.ok, N, JSON.stringify(withLb));
      assert.ok(await lb.metric('kube_local_lb_listener_sessions_total', { listener: `${clusterIp}:443` }) >= N, 'the sessions came through the ClusterIP listener');
      assert.equal(await lb.metric('kube_local_lb_sessions_total', { backend: dead.address }), 0, 'no session to the killed apiserver');

      // kubectl in the pod, as in-cluster config would have it: https://ClusterIP:443.
      const podKc = c.kubeconfig('pod', `https://${clusterIp}:443`, { token: c.creds.adminToken });
      for (let i = 0; i < 5; i++) {
        const r = spawnSync('ip', ['netns', 'exec', pod, 'kubectl', '--kubeconfig', podKc, '--request-timeout=10s',
          'get', '--raw', '/api/v1/namespaces/default/services/kubernetes'], { encoding: 'utf8', timeout: 20_000 });
        assert.equal(r.status, 0, `kubectl from the pod: ${r.stderr}`);
        assert.equal((JSON.parse(r.stdout) as { spec: { clusterIP: string } }).spec.clusterIP, clusterIp);
      }

      // doctor on the node reads the real kube-proxy's rules as iptables mode.
      const doctor = spawnSync('ip', ['netns', 'exec', c.nodeNs, process.execPath, MAIN, 'doctor', '--proxy', '127.0.0.1:6444',
        '--admin', `http://${ADMIN}`], { encoding: 'utf8', timeout: 30_000 });
      assert.match(doctor.stdout, /^ok +Service proxy on this node: iptables$/m, doctor.stdout);
      assert.match(doctor.stdout, new RegExp(`^ok +cluster-ip ${clusterIp.replaceAll('.', '\\.')}:443 on lo, exempt from kube-proxy's DNAT, answers through kube-local-lb$`, 'm'), doctor.stdout);
    } finally {
      await lb.stop('SIGTERM');
    }
    assert.ok(lb.records.some((r) => r['event'] === 'cluster_ip_removed'), 'cluster_ip_removed logged');
    assert.equal(hasTable(), false, 'table gone');
    assert.equal(hasAddress(), false, 'address gone');
    assert.deepEqual(dnatTargets(), targets, 'kube-proxy\'s rules untouched');
    const back = await probe(N);
    t.diagnostic(`after SIGTERM of kube-local-lb: ${back.refused} of ${N} refused, ${back.ok} answered through kube-proxy's path`);
    assert.ok(back.ok > 0 && back.refused > 0 && back.ok + back.refused === N, `kube-proxy's path answers again: ${JSON.stringify(back)}`);
  });
  test('master-count: the killed apiserver stays in the kubernetes Endpoints, and kube-local-lb --discover sends it nothing', { timeout: 240_000 }, async () => {
    const dead = c.apiservers[2]!;
    if (dead.proc && dead.proc.child.exitCode === null && dead.proc.child.signalCode === null) {
      c.signal(2, 'SIGKILL');
      await dead.proc.exit;
      killedAt = Date.now();
    }
    assert.ok(killedAt, `${dead.name} was never started`);
    const rbac = /```yaml\n(apiVersion: rbac[\s\S]*?)```/.exec(readFileSync(new URL('../../../docs/discovery.md', import.meta.url), 'utf8'))?.[1];
    assert.ok(rbac);
    const applied = await c.adminKubectl(['apply', '-f', '-'], rbac);
    assert.equal(applied.code, 0, applied.stderr);
    const all = c.apiservers.map((a) => a.ip).sort();

    const lb = await startNodeLb(c, ['--backend', c.apiservers[0]!.address, '--discover',
      '--health-auth', 'token', '--health-token-file', c.creds.discoverTokenFile]);
    try {
      await lb.waitFor({ event: 'backend_state', backend: dead.address, to: 'down' }, 30_000);
      await lb.waitUp(2, 30_000);
      const before = await lb.metric('kube_local_lb_sessions_total', { backend: dead.address });
      const kc = c.kubeconfig('admin-lb', 'https://127.0.0.1:6444', { token: c.creds.adminToken });
      const loop = kubectlLoop(c, kc, ['get', 'pods', '-n', 'default']);
      // Two reconcile intervals (10 s) since the kill, and longer than the lease reconciler takes
      // to drop a killed apiserver (lease TTL 15 s: 16.5-16.8 s in discovery.test.ts).
      await sleep(Math.max(8_000, killedAt + 20_000 - Date.now()));
      await loop.stop();
      assert.deepEqual(await endpointIps(), all, 'master-count keeps the dead apiserver listed');
      const views = await lb.backends();
      assert.equal(views.find((b) => b.address === dead.address)?.state, 'down', JSON.stringify(views));
      assert.equal(views.length, 3, 'the discovered list still holds the dead apiserver');
      assert.equal(await lb.metric('kube_local_lb_sessions_total', { backend: dead.address }), before, 'no session to the dead apiserver');
      assert.deepEqual(loop.failures, []);
      assert.ok(loop.calls > 10, `kubectl ran ${loop.calls} times`);
    } finally {
      await lb.stop();
    }
  });
});
