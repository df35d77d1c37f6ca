/**
 * Network faults between the proxy and one apiserver, made with real kernel tools in network
 * namespaces (root): delay and random loss with `tc ... netem`, every packet dropped by the
 * link's queue (a firewall's DROP, the link itself up), and an apiserver reached over IPv6.
 * kube-local-lb, its clients and a second apiserver run in a "node" namespace; the apiserver
 * under test is in a namespace of its own behind the veth pair: no interface of the root
 * namespace is involved.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { fakeCluster, type FakeCluster } from './helpers/cluster.js';
import type { LbProcess } from './helpers/lb-process.js';
import { backendDoc, type NsClient, startNodeProxy, startNsClient } from './helpers/netns-client.js';
import { fakeApiserverIn, makeNetnsHost, netemUnavailable, netnsUnavailable, type NetnsHost } from './helpers/netns.js';
import { waitUntil } from './helpers/wait.js';

const rootSkip = netnsUnavailable();
const netemSkip = rootSkip ?? netemUnavailable();

interface Setup {
  cluster: FakeCluster;
  host: NetnsHost;
  remote: string;
  local: string;
  lb: LbProcess;
  client: NsClient;
}

/** An apiserver on the node's loopback, one behind the link under test, and the proxy in front of both. */
async function setUp(t: TestContext, index: number, health: { interval: string; timeout: string }): Promise<Setup> {
  const cluster = await fakeCluster(0, { startup: 'instant' });
  t.after(() => cluster.close());
  const host = makeNetnsHost(index);
  t.after(() => host.remove());
  const fake = await fakeApiserverIn(host.spawn, host.ip, cluster.pki.tls, 'instant');
  t.after(() => fake.child.kill('SIGKILL'));
  const near = await fakeApiserverIn(host.nodeSpawn, '127.0.0.1', cluster.pki.tls, 'instant', 'local');
  t.after(() => near.child.kill('SIGKILL'));
  const caFile = cluster.file('ca.crt', cluster.pki.ca.certPem);
  const lb = await startNodeProxy(t, host, caFile, ['--backend', fake.address, '--backend', near.address,
    '--health-interval', health.interval, '--health-timeout', health.timeout, '--health-fall', '2', '--health-rise', '1']);
  await lb.waitFor({ event: 'backend_state', backend: fake.address, to: 'up' });
  await lb.waitFor({ event: 'backend_state', backend: near.address, to: 'up' });
  return { cluster, host, remote: fake.address, local: near.address, lb, client: startNsClient(t, host, caFile) };
}

function passedChecks(lb: LbProcess, address: string): Promise<number> {
  return lb.metric('kube_local_lb_backend_checks_total', { backend: address, verdict: 'pass' });
}

const stateOf = async (lb: LbProcess, address: string): Promise<string> => (await backendDoc(lb, address)).state;
const down = (lb: LbProcess, address: string) => lb.records.find((r) => r['event'] === 'backend_state' && r['backend'] === address && r['to'] === 'down');

test('netem: delay under the check timeout keeps the backend up and serving; heavy loss takes it down; healed, it is back', { skip: netemSkip }, async (t) => {
  const { host, remote, local, lb, client } = await setUp(t, 1, { interval: '200ms', timeout: '800ms' });
  // 100 ms each way: a check on the kept-alive connection takes one round trip (200 ms), a fresh
  // TLS connection three (600 ms): both under the 800 ms timeout.
  host.qdisc(['netem', 'delay', '100ms']);
  const passes = async () => {
    const c = (await backendDoc(lb, remote)).lastCheck;
    return c?.reason === 'ok' && c.durationMs >= 150;
  };
  await waitUntil(passes, 'a check of the delayed backend that passed slowly', 10_000, 100);
  const checksBefore = await passedChecks(lb, remote);
  const answered = new Set<string>();
  for (let i = 0; i < 16; i++) answered.add(await client.livez(lb.port));
  await waitUntil(async () => (await passedChecks(lb, remote)) >= checksBefore + 8, 'eight more passed checks of the delayed backend', 10_000, 100);
  assert.equal(down(lb, remote), undefined, 'delayed, not down');
  assert.equal(await stateOf(lb, remote), 'up');
  assert.ok(answered.has('in-netns'), `the delayed backend served sessions too (${[...answered].join(', ')})`);

  // 90% of packets lost both ways: checks time out, the backend goes down; clients do not notice.
  host.qdisc(['netem', 'loss', '90%']);
  await lb.waitFor({ event: 'backend_state', backend: remote, to: 'down' }, 15_000);
  for (let i = 0; i < 10; i++) assert.equal(await client.livez(lb.port), 'local', 'served by the local apiserver');
  host.clearQdisc();
  await waitUntil(async () => (await stateOf(lb, remote)) === 'up', 'the healed backend up again', 15_000, 100);
  assert.equal(await stateOf(lb, local), 'up');
});

test('every packet dropped by the link queue (a firewall DROP, the link up): down, replayed elsewhere, back when it stops', { skip: rootSkip }, async (t) => {
  const { host, remote, lb, client } = await setUp(t, 2, { interval: '200ms', timeout: '300ms' });
  // A queue of length 0: every packet the link would carry is dropped, silently.
  host.qdisc(['pfifo', 'limit', '0']);
  const dropAt = Date.now();
  // New sessions during the fault all succeed: those sent to the silent backend are replayed.
  for (let i = 0; i < 10; i++) assert.equal(await client.livez(lb.port), 'local');
  const wentDown = await lb.waitFor({ event: 'backend_state', backend: remote, to: 'down' }, 15_000);
  assert.ok(['timeout', 'connect_timeout'].includes(String(wentDown['reason'])), String(wentDown['reason']));
  t.diagnostic(`down ${Date.parse(String(wentDown['time'])) - dropAt} ms after the drops began`);
  host.clearQdisc();
  await waitUntil(async () => (await stateOf(lb, remote)) === 'up', 'up again once packets pass', 15_000, 100);
  const answered = new Set<string>();
  for (let i = 0; i < 30 && !answered.has('in-netns'); i++) answered.add(await client.livez(lb.port));
  assert.ok(answered.has('in-netns'), 'the recovered backend serves again');
});

test('an apiserver reached over IPv6 on a veth ([fd00::]), clients on [::1]', { skip: rootSkip }, async (t) => {
  const cluster = await fakeCluster(0, { startup: 'instant' });
  t.after(() => cluster.close());
  const host = makeNetnsHost(3);
  t.after(() => host.remove());
  const fake = await fakeApiserverIn(host.spawn, host.ip6, cluster.pki.tls, 'instant');
  t.after(() => fake.child.kill('SIGKILL'));
  const remote = `[${host.ip6}]:${fake.port}`;
  assert.equal(fake.address, remote);
  const caFile = cluster.file('ca.crt', cluster.pki.ca.certPem);
  const lb = await startNodeProxy(t, host, caFile, ['--backend', remote, '--listen', '[::1]:0', '--listen', '127.0.0.1:0',
    '--health-interval', '200ms', '--health-timeout', '500ms']);
  const up = await lb.waitFor({ event: 'backend_state', backend: remote, to: 'up' });
  assert.equal(up['reason'], 'ok');
  const [six, four] = lb.listen;
  assert.match(six ?? '', /^\[::1\]:\d+$/);
  const client = startNsClient(t, host, caFile);
  assert.equal(await client.livez(Number(six?.split(':').pop()), '::1'), 'in-netns');
  assert.equal(await client.livez(Number(four?.split(':').pop())), 'in-netns');
  // The link goes: the IPv6 backend is found down like any other.
  host.linkDown();
  await lb.waitFor({ event: 'backend_state', backend: remote, to: 'down' }, 10_000);
});
