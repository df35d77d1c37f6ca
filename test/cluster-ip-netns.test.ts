/**
 * Pods reach the apiserver through the `kubernetes` ClusterIP (`--cluster-ip`), in network
 * namespaces the tests make: a "node" with three apiserver addresses (one dead) and kube-proxy's
 * DNAT imitated with real iptables or nftables rules, and a "pod" behind a veth. kube-local-lb
 * runs inside the node namespace, as it would on a node.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MAIN } from './cli-spawn.js';
import { commandExists } from './helpers/command-exists.js';
import { startRun, type LbProcess } from './helpers/lb-process.js';
import { netnsUnavailable } from './helpers/netns.js';
import { CLUSTER_IP, makePodNetwork, type PodNetwork } from './helpers/pod-network.js';
import { waitUntil } from './helpers/wait.js';

const N = 60;
const WATCH = fileURLToPath(new URL('./helpers/pod-watch.js', import.meta.url));

/** Why these tests cannot run here; under CI a missing tool is a failure, not a skip. */
function unavailable(): string | undefined {
  const why = netnsUnavailable() ?? (['nft', 'iptables', 'iptables-restore', 'curl', 'kubectl', 'setpriv'].find((tool) => !commandExists(tool)) ?? '');
  if (why === '') return undefined;
  const text = why.includes(' ') ? why : `${why} is not installed`;
  if (process.env['CI'] === 'true') throw new Error(`CI=true but ${text}`);
  return text;
}
const skip = unavailable();

function lbArgs(net: PodNetwork, extra: string[] = []): string[] {
  return [
    ...net.apiservers.flatMap((address) => ['--backend', `${address}:6443`]),
    '--health-auth', 'client-cert', '--health-client-cert', net.file('admin.crt'), '--health-client-key', net.file('admin.key'),
    '--health-ca-file', net.file('ca.crt'), '--health-interval', '200ms', '--health-timeout', '500ms',
    '--admin-listen', '127.0.0.1:9445', '--shutdown-grace', '1s', '--cluster-ip-interface', 'lo', ...extra,
  ];
}

async function startLb(t: TestContext, net: PodNetwork, extra: string[] = ['--cluster-ip', CLUSTER_IP]): Promise<LbProcess> {
  const lb = await startRun(t, lbArgs(net, extra), { wrap: ['ip', 'netns', 'exec', net.node] });
  await lb.waitFor({ event: 'backend_state', backend: `${net.apiservers[2] ?? ''}:6443`, to: 'down' });
  return lb;
}

function metrics(net: PodNetwork): string {
  return net.inNode('curl', ['-s', 'http://127.0.0.1:9445/metrics']);
}

function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return Number(line?.split(' ').pop() ?? 'NaN');
}

function hasTable(net: PodNetwork): boolean {
  return net.inNode('nft', ['list', 'tables']).includes('kube_local_lb');
}
function hasAddress(net: PodNetwork): boolean {
  return net.inNode('ip', ['-o', 'addr', 'show', 'dev', 'lo']).includes(`${CLUSTER_IP}/32`);
}

async function stop(lb: LbProcess, signal: NodeJS.Signals): Promise<void> {
  lb.child.kill(signal);
  await lb.exit;
}

/** curl, kubectl and a @kubernetes/client-node watch from the pod, through the ClusterIP. */
async function clientsFromPod(t: TestContext, net: PodNetwork): Promise<void> {
  const curl = spawnSync('ip', ['netns', 'exec', net.pod, 'curl', '-sS', '--max-time', '5', '--cacert', net.file('ca.crt'),
    '--cert', net.file('admin.crt'), '--key', net.file('admin.key'), `https://${CLUSTER_IP}/readyz`], { encoding: 'utf8' });
  assert.equal(curl.stdout, 'ok', `curl: ${curl.stderr}`);
  const kubectl = spawnSync('ip', ['netns', 'exec', net.pod, 'kubectl', '--kubeconfig', net.file('pod.kubeconfig'), '--request-timeout', '5s',
    'get', '--raw', '/api/v1/namespaces/default/services/kubernetes'], { encoding: 'utf8' });
  assert.equal(kubectl.status, 0, kubectl.stderr);
  assert.equal((JSON.parse(kubectl.stdout) as { spec: { clusterIP: string } }).spec.clusterIP, CLUSTER_IP);
  const watch = net.spawnIn('pod', process.execPath, [WATCH, net.file('pod.kubeconfig')]);
  t.after(() => watch.kill('SIGKILL'));
  const lines: string[] = [];
  createInterface({ input: watch.stdout ?? process.stdin }).on('line', (line) => lines.push(line));
  await waitUntil(() => lines.includes('WATCHING'), 'the watch from the pod started', 30_000);
  net.tellApiservers('add-pod default/seen-from-the-pod');
  await waitUntil(() => lines.includes('ADDED seen-from-the-pod'), `the watch event in the pod (${lines.join(' | ')})`, 20_000);
}

for (const mode of ['iptables', 'nftables'] as const) {
  test(`kube-proxy's ${mode} DNAT to a dead apiserver: refused at random without kube-local-lb, never with --cluster-ip; SIGTERM hands the path back`, { skip }, async (t) => {
    const net = makePodNetwork(mode === 'iptables' ? 1 : 2);
    t.after(() => net.remove());
    await net.startApiservers();
    net.setDefaultRoute(true);
    if (mode === 'iptables') net.dnatIptables();
    else net.dnatNftables();

    const before = await net.probe('pod', N);
    t.diagnostic(`${mode} DNAT, no kube-local-lb: ${before.refused} of ${N} refused, ${before.ok} answered (${JSON.stringify(before)})`);
    assert.ok(before.refused >= N / 8 && before.refused <= N * 0.6, `about a third refused: ${JSON.stringify(before)}`);
    assert.equal(before.ok + before.refused, N);

    const lb = await startLb(t, net);
    await lb.waitFor({ event: 'cluster_ip_installed' });
    assert.ok(hasTable(net) && hasAddress(net));
    const during = await net.probe('pod', N);
    t.diagnostic(`${mode} DNAT, --cluster-ip: ${N - during.ok} of ${N} failed (${JSON.stringify(during)})`);
    assert.equal(during.ok, N, JSON.stringify(during));
    const fromNode = await net.probe('node', 10);
    assert.equal(fromNode.ok, 10, `from the node: ${JSON.stringify(fromNode)}`);
    await clientsFromPod(t, net);
    const m = metrics(net);
    assert.ok(sample(m, 'kube_local_lb_listener_sessions_total', `listener="${CLUSTER_IP}:443"`) >= N + 10, 'sessions counted on the ClusterIP listener');
    assert.equal(sample(m, 'kube_local_lb_cluster_ip_interception_state', 'state="installed"'), 1);

    if (mode === 'iptables') {
      const doctor = spawnSync('ip', ['netns', 'exec', net.node, process.execPath, MAIN, 'doctor', '--proxy', '127.0.0.1:6443',
        '--admin', 'http://127.0.0.1:9445'], { encoding: 'utf8', timeout: 30_000 });
      assert.match(doctor.stdout, /^ok +Service proxy on this node: iptables$/m, doctor.stdout);
      assert.match(doctor.stdout, new RegExp(`^ok +cluster-ip ${CLUSTER_IP}:443 on lo, exempt from kube-proxy's DNAT, answers through kube-local-lb$`, 'm'), doctor.stdout);
    }

    await stop(lb, 'SIGTERM');
    assert.equal(hasTable(net), false, 'table gone');
    assert.equal(hasAddress(net), false, 'address gone');
    assert.ok(lb.records.some((r) => r['event'] === 'cluster_ip_removed'));
    const after = await net.probe('pod', N);
    t.diagnostic(`${mode} DNAT after SIGTERM: ${after.refused} of ${N} refused, ${after.ok} answered through kube-proxy's path`);
    assert.ok(after.ok > 0 && after.refused > 0 && after.ok + after.refused === N, `kube-proxy's path answers again: ${JSON.stringify(after)}`);
  });
}

test('no kube-proxy (no DNAT at all) and no default route on the node: the ClusterIP still answers from the pod and the node', { skip }, async (t) => {
  const net = makePodNetwork(3);
  t.after(() => net.remove());
  await net.startApiservers();
  const podBefore = await net.probe('pod', 10, 500);
  const nodeBefore = await net.probe('node', 10, 500);
  t.diagnostic(`no DNAT, no route, no kube-local-lb: pod ${10 - podBefore.ok}/10 failed, node ${10 - nodeBefore.ok}/10 failed (${nodeBefore.unreachable} unreachable)`);
  assert.equal(podBefore.ok, 0);
  assert.equal(nodeBefore.unreachable, 10, 'the node has no route to the ClusterIP');

  const lb = await startLb(t, net);
  await lb.waitFor({ event: 'cluster_ip_installed' });
  const pod = await net.probe('pod', N);
  const node = await net.probe('node', N);
  t.diagnostic(`no DNAT, no route, --cluster-ip: pod ${N - pod.ok}/${N} failed, node ${N - node.ok}/${N} failed`);
  assert.equal(pod.ok, N, JSON.stringify(pod));
  assert.equal(node.ok, N, JSON.stringify(node));
  await clientsFromPod(t, net);
});

test('SIGKILL leaves the table and address; the next run cleans them and works; repair when they disappear', { skip }, async (t) => {
  const net = makePodNetwork(4);
  t.after(() => net.remove());
  await net.startApiservers();
  net.setDefaultRoute(true);
  net.dnatIptables();
  const first = await startLb(t, net);
  await first.waitFor({ event: 'cluster_ip_installed' });
  await stop(first, 'SIGKILL');
  assert.ok(hasTable(net) && hasAddress(net), 'a killed run leaves both behind');
  const stranded = await net.probe('pod', 10, 1000);
  t.diagnostic(`leftovers, nothing running: ${10 - stranded.ok}/10 failed`);
  assert.equal(stranded.refused, 10, 'the leftovers refuse every connection: why they must be cleaned');

  const second = await startLb(t, net);
  await second.waitFor({ event: 'cluster_ip_leftovers_removed' });
  await second.waitFor({ event: 'cluster_ip_installed' });
  const again = await net.probe('pod', N);
  t.diagnostic(`restarted after SIGKILL: ${N - again.ok}/${N} failed`);
  assert.equal(again.ok, N, JSON.stringify(again));

  // Someone flushes the ruleset and removes the address: put back, said so, counted.
  net.inNode('nft', ['delete', 'table', 'inet', 'kube_local_lb']);
  net.inNode('ip', ['addr', 'del', `${CLUSTER_IP}/32`, 'dev', 'lo']);
  const broken = await second.waitFor({ event: 'cluster_ip_broken', repaired: true }, 20_000);
  assert.deepEqual(broken['parts'], ['address', 'table']);
  assert.ok(hasTable(net) && hasAddress(net), 'repaired');
  const m = metrics(net);
  assert.equal(sample(m, 'kube_local_lb_cluster_ip_repairs_total', 'part="table"'), 1);
  assert.equal(sample(m, 'kube_local_lb_cluster_ip_repairs_total', 'part="address"'), 1);
  const repaired = await net.probe('pod', N);
  assert.equal(repaired.ok, N, JSON.stringify(repaired));
});

test('without CAP_NET_ADMIN: exit 2, one line, nothing changed', { skip }, async (t) => {
  const net = makePodNetwork(5);
  t.after(() => net.remove());
  net.dnatIptables();
  const before = net.snapshot();
  const result = spawnSync('ip', ['netns', 'exec', net.node, 'setpriv', '--inh-caps=-net_admin', '--bounding-set=-net_admin', '--',
    process.execPath, MAIN, 'run', ...lbArgs(net, ['--cluster-ip', CLUSTER_IP])], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 2, result.stderr);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, `kube-local-lb: --cluster-ip: "${CLUSTER_IP}:443" needs root or CAP_NET_ADMIN, which this process lacks; nothing was changed\n`);
  assert.equal(net.snapshot(), before);
});

test('a link-local address is held and served beside the ClusterIP, and removed with it', { skip }, async (t) => {
  const net = makePodNetwork(6);
  t.after(() => net.remove());
  await net.startApiservers();
  const lb = await startLb(t, net, ['--cluster-ip', CLUSTER_IP, '--cluster-ip-link-local', '169.254.20.11:6443']);
  await lb.waitFor({ event: 'cluster_ip_installed' });
  // The pod reaches the node's link-local address through its default route.
  const viaLinkLocal = await net.probe('pod', 20, 2000, '169.254.20.11:6443');
  assert.equal(viaLinkLocal.ok, 20, JSON.stringify(viaLinkLocal));
  await stop(lb, 'SIGTERM');
  assert.equal(net.inNode('ip', ['-o', 'addr', 'show', 'dev', 'lo']).includes('169.254.20.11'), false);
});

test('kube-proxy in IPVS mode (kube-ipvs0 holds the ClusterIP): refused in one line, exit 2, nothing changed', { skip }, async (t) => {
  const net = makePodNetwork(7);
  t.after(() => net.remove());
  // kube-proxy's IPVS mode holds every ClusterIP on a dummy kube-ipvs0; this kernel has no dummy
  // devices, so a veth end of that name stands in for it.
  net.inNode('ip', ['link', 'add', 'kube-ipvs0', 'type', 'veth', 'peer', 'name', 'cipx-ipvs']);
  net.inNode('ip', ['addr', 'add', `${CLUSTER_IP}/32`, 'dev', 'kube-ipvs0']);
  const before = net.snapshot();
  const result = spawnSync('ip', ['netns', 'exec', net.node, process.execPath, MAIN, 'run', ...lbArgs(net, ['--cluster-ip', CLUSTER_IP])],
    { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 2, result.stderr);
  assert.equal(result.stderr, `kube-local-lb: --cluster-ip: "${CLUSTER_IP}:443" cannot be intercepted: kube-proxy runs in IPVS mode here ` +
    '(kube-ipvs0 holds every ClusterIP and IPVS intercepts it before nftables): use --cluster-ip-link-local instead; nothing was changed\n');
  assert.equal(net.snapshot(), before);
});

test('Cilium and a host firewall that drops input: one warning line each at start', { skip }, async (t) => {
  const net = makePodNetwork(8);
  t.after(() => net.remove());
  await net.startApiservers();
  net.inNode('ip', ['link', 'add', 'cilium_host', 'type', 'veth', 'peer', 'name', 'cilium_net']);
  net.inNode('nft', ['-f', '-'], 'table inet host-firewall {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    tcp dport { 443, 6443 } accept\n    ip saddr 127.0.0.0/8 accept\n    ip daddr 10.0.0.0/8 accept\n  }\n}\n');
  const lb = await startLb(t, net);
  const cilium = await lb.waitFor({ event: 'cluster_ip_cilium' });
  assert.equal(cilium['level'], 'warn');
  const firewall = await lb.waitFor({ event: 'cluster_ip_host_firewall' });
  assert.match(String(firewall['msg']), /host-firewall\/input/);
  await lb.waitFor({ event: 'cluster_ip_installed' });
});

test('--cluster-ip auto reads spec.clusterIP of Service default/kubernetes through a healthy backend, then serves it', { skip }, async (t) => {
  const net = makePodNetwork(9);
  t.after(() => net.remove());
  await net.startApiservers();
  net.setDefaultRoute(true);
  net.dnatIptables();
  const lb = await startLb(t, net, ['--cluster-ip', 'auto']);
  const resolved = await lb.waitFor({ event: 'cluster_ip_resolved' });
  assert.equal(resolved['address'], `${CLUSTER_IP}:443`);
  const installed = await lb.waitFor({ event: 'cluster_ip_installed' });
  assert.deepEqual(installed['addresses'], [`${CLUSTER_IP}:443`]);
  const outcomes = await net.probe('pod', N);
  t.diagnostic(`iptables DNAT, --cluster-ip auto: ${N - outcomes.ok} of ${N} failed`);
  assert.equal(outcomes.ok, N, JSON.stringify(outcomes));
});
