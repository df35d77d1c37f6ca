/**
 * Network faults between the proxy and one apiserver, made with real kernel tools in a network
 * namespace (root): delay and random loss with `tc ... netem`, every packet dropped by the
 * link's queue (a firewall's DROP, the link itself up), and an apiserver reached over IPv6.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import { fakeCluster, type FakeCluster } from './helpers/cluster.js';
import { logSink } from './helpers/logs.js';
import { fakeApiserverIn, netnsUnavailable } from './helpers/netns.js';
import { type LinkHost, makeLinkHost, netemUnavailable } from './helpers/netns-link.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { waitUntil } from './helpers/wait.js';

const rootSkip = netnsUnavailable();
const netemSkip = rootSkip ?? netemUnavailable();

/** One HTTPS GET /livez through the proxy on a fresh connection: the name of the apiserver that answered. */
function livez(port: number, ca: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, ca, servername: 'kubernetes', ALPNProtocols: ['http/1.1'] });
    let got = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within 10 s: ${got}`)), 10_000);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('secureConnect', () => socket.write('GET /livez HTTP/1.1\r\nHost: kubernetes\r\nConnection: close\r\n\r\n'));
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => {
      clearTimeout(timer);
      const name = /x-fake-apiserver: (\S+)/i.exec(got)?.[1];
      if (name && got.endsWith('ok')) resolve(name);
      else reject(new Error(`not an answer: ${got}`));
    });
  });
}

interface Setup {
  cluster: FakeCluster;
  host: LinkHost;
  remote: string;
  local: string;
  lb: TestProxy;
  logs: ReturnType<typeof logSink>;
}

/** A local apiserver, one in a namespace behind the link under test, and the proxy in front of both. */
async function setUp(t: { after(fn: () => unknown): void }, index: number, health: { intervalMs: number; timeoutMs: number }): Promise<Setup> {
  const cluster = await fakeCluster(1, { startup: 'instant' });
  t.after(() => cluster.close());
  const host = makeLinkHost(index);
  t.after(() => host.remove());
  const fake = await fakeApiserverIn(host, cluster.pki.tls, 'instant');
  t.after(() => fake.child.kill('SIGKILL'));
  const local = cluster.apiservers[0]?.address ?? '';
  const remote = `${host.ip}:${fake.port}`;
  const logs = logSink('info');
  const lb = await startProxy({ backends: [remote, local],
    health: { scheme: 'https', fall: 2, rise: 1, caFile: cluster.file('ca.crt', cluster.pki.ca.certPem), ...health } }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_state', backend: remote, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: local, to: 'up' });
  return { cluster, host, remote, local, lb, logs };
}

async function passedChecks(lb: TestProxy, address: string): Promise<number> {
  const { values } = await lb.app.metrics.backends.checks.get();
  return values.filter((v) => v.labels['backend'] === address && v.labels['verdict'] === 'pass').reduce((sum, v) => sum + v.value, 0);
}

function backendOf(lb: TestProxy, address: string) {
  const b = lb.app.pool.backends.find((x) => x.address === address);
  assert.ok(b, address);
  return b;
}

test('netem: delay under the check timeout keeps the backend up and serving; heavy loss takes it down; healed, it is back', { skip: netemSkip }, async (t) => {
  const { cluster, host, remote, local, lb, logs } = await setUp(t, 1, { intervalMs: 200, timeoutMs: 800 });
  const ca = cluster.pki.ca.certPem;
  // 100 ms each way: a check on the kept-alive connection takes one round trip (200 ms), a fresh
  // TLS connection three (600 ms): both under the 800 ms timeout.
  host.qdisc(['netem', 'delay', '100ms']);
  const passes = () => backendOf(lb, remote).lastCheck?.reason === 'ok' && (backendOf(lb, remote).lastCheck?.durationMs ?? 0) >= 150;
  await waitUntil(passes, 'a check of the delayed backend that passed slowly');
  const checksBefore = await passedChecks(lb, remote);
  const answered = new Set<string>();
  for (let i = 0; i < 16; i++) answered.add(await livez(lb.port, ca));
  await waitUntil(async () => (await passedChecks(lb, remote)) >= checksBefore + 8, 'eight more passed checks of the delayed backend');
  assert.equal(logs.find({ event: 'backend_state', backend: remote, to: 'down' }), undefined, 'delayed, not down');
  assert.equal(backendOf(lb, remote).state.kind, 'up');
  assert.ok(answered.has('in-netns'), `the delayed backend served sessions too (${[...answered].join(', ')})`);

  // 90% of packets lost both ways: checks time out, the backend goes down; clients do not notice.
  host.qdisc(['netem', 'loss', '90%']);
  await logs.waitFor({ event: 'backend_state', backend: remote, to: 'down' }, 15_000);
  for (let i = 0; i < 10; i++) assert.equal(await livez(lb.port, ca), cluster.apiservers[0]?.name, 'served by the local apiserver');
  host.clearQdisc();
  await waitUntil(() => backendOf(lb, remote).state.kind === 'up', 'the healed backend up again', 15_000);
  assert.equal(backendOf(lb, local).state.kind, 'up');
});

test('every packet dropped by the link queue (a firewall DROP, the link up): down, replayed elsewhere, back when it stops', { skip: rootSkip }, async (t) => {
  const { cluster, host, remote, lb, logs } = await setUp(t, 2, { intervalMs: 200, timeoutMs: 300 });
  const ca = cluster.pki.ca.certPem;
  // A queue of length 0: every packet the link would carry is dropped, silently.
  host.qdisc(['pfifo', 'limit', '0']);
  const dropAt = Date.now();
  // New sessions during the fault all succeed: those sent to the silent backend are replayed.
  for (let i = 0; i < 10; i++) assert.equal(await livez(lb.port, ca), cluster.apiservers[0]?.name);
  const down = await logs.waitFor({ event: 'backend_state', backend: remote, to: 'down' }, 15_000);
  assert.ok(['timeout', 'connect_timeout'].includes(String(down['reason'])), String(down['reason']));
  t.diagnostic(`down ${Date.parse(String(down['time'])) - dropAt} ms after the drops began`);
  host.clearQdisc();
  await waitUntil(() => backendOf(lb, remote).state.kind === 'up', 'up again once packets pass', 15_000);
  const answered = new Set<string>();
  for (let i = 0; i < 30 && !answered.has('in-netns'); i++) answered.add(await livez(lb.port, ca));
  assert.ok(answered.has('in-netns'), 'the recovered backend serves again');
});

test('an apiserver reached over IPv6 on a veth ([fd00::]), clients on [::1]', { skip: rootSkip }, async (t) => {
  const cluster = await fakeCluster(0, { startup: 'instant' });
  t.after(() => cluster.close());
  const host = makeLinkHost(3);
  t.after(() => host.remove());
  const fake = await fakeApiserverIn({ ...host, ip: host.ip6 }, cluster.pki.tls, 'instant');
  t.after(() => fake.child.kill('SIGKILL'));
  const remote = `[${host.ip6}]:${fake.port}`;
  const logs = logSink('info');
  const lb = await startProxy({ backends: [remote], listen: [{ host: '::1', port: 0 }, { host: '127.0.0.1', port: 0 }],
    health: { scheme: 'https', intervalMs: 200, timeoutMs: 500, caFile: cluster.file('ca.crt', cluster.pki.ca.certPem) } }, logs);
  t.after(() => lb.close());
  const up = await logs.waitFor({ event: 'backend_state', backend: remote, to: 'up' });
  assert.equal(up['reason'], 'ok');
  const [six, four] = lb.app.listenAddresses;
  assert.equal(six?.host, '::1');
  assert.equal(await livez(six?.port ?? 0, cluster.pki.ca.certPem, '::1'), 'in-netns');
  assert.equal(await livez(four?.port ?? 0, cluster.pki.ca.certPem), 'in-netns');
  // The link goes: the IPv6 backend is found down like any other.
  host.linkDown();
  await logs.waitFor({ event: 'backend_state', backend: remote, to: 'down' }, 10_000);
});
