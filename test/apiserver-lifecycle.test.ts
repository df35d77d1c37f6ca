import assert from 'node:assert/strict';
import https from 'node:https';
import { test, type TestContext } from 'node:test';
import { type FakeApiserver, h1Request } from './fake-apiserver/index.js';
import { fakeCluster, type FakeCluster } from './helpers/cluster.js';
import { logSink, type LogSink } from './helpers/logs.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { waitUntil } from './helpers/wait.js';

// The three ways a real kube-apiserver's life used to break kube-local-lb, forced through the
// imitation that now behaves like it (reference/real-apiserver.md, part A, items 1-3), with the
// product's default check timing: interval 2 s, timeout 1 s.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function clusterBehindProxy(t: TestContext, n: number): Promise<{ cluster: FakeCluster; lb: TestProxy; logs: LogSink }> {
  const cluster = await fakeCluster(n, { startup: 'instant' });
  const logs = logSink('info');
  const lb = await startProxy({
    backends: cluster.apiservers.map((a) => a.address),
    health: { scheme: 'https', intervalMs: 2_000, timeoutMs: 1_000, rise: 2, fall: 2, caFile: cluster.file('ca.crt', cluster.pki.ca.certPem) },
  }, logs);
  t.after(async () => {
    await lb.close();
    await cluster.close();
  });
  for (const a of cluster.apiservers) await logs.waitFor({ event: 'backend_state', backend: a.address, to: 'up' }, 10_000);
  return { cluster, lb, logs };
}

/** A watch through the proxy; counts the lines it gets and says how it ended. */
function watchThrough(lb: TestProxy, cluster: FakeCluster, t: TestContext) {
  const w = { apiserver: '', lines: 0, ended: '' };
  const req = https.get({ host: '127.0.0.1', port: lb.port, path: '/api/v1/pods?watch=1', ca: cluster.pki.ca.certPem, servername: 'kubernetes',
    cert: cluster.pki.admin.certPem, key: cluster.pki.admin.keyPem, agent: false }, (res) => {
    w.apiserver = String(res.headers['x-fake-apiserver'] ?? '');
    res.on('data', () => w.lines++);
    res.on('error', (e: NodeJS.ErrnoException) => (w.ended ||= e.code ?? 'error'));
    res.on('close', () => (w.ended ||= 'closed'));
  });
  req.on('error', (e: NodeJS.ErrnoException) => (w.ended ||= e.code ?? 'error'));
  t.after(() => req.destroy());
  return w;
}

test('etcd down under every apiserver: /readyz is slow, all go draining (never down), panic keeps the node served, no session is ejected', async (t) => {
  const { cluster, lb, logs } = await clusterBehindProxy(t, 2);
  const watch = watchThrough(lb, cluster, t);
  await sleep(500);
  for (const a of cluster.apiservers) a.setEtcd(false);
  await logs.waitFor({ event: 'panic_entered' }, 15_000);
  for (const a of cluster.apiservers) {
    const draining = logs.find({ event: 'backend_state', backend: a.address, to: 'draining' });
    assert.ok(draining, `${a.address} draining`);
  }
  // Lists from the watch cache (resourceVersion=0) still answer through the proxy, on new sessions.
  for (let i = 0; i < 3; i++) {
    const answer = await h1Request({ port: lb.port, caPem: cluster.pki.ca.certPem, cert: cluster.pki.admin }, '/api/v1/namespaces/default/pods?resourceVersion=0');
    assert.equal(answer.status, 200);
    await sleep(1_000);
  }
  cluster.store.add({ name: 'during-the-outage' });
  await sleep(500);
  assert.equal(watch.ended, '', 'the watch is still open');
  assert.ok(watch.lines > 0, 'the watch got the event from the cache');
  assert.equal(logs.find({ event: 'backend_state', to: 'down' }), undefined, 'no backend went down');
  assert.equal(logs.find({ event: 'backend_ejected' }), undefined);
  await sleep(6_000);
  // The apiservers come back one by one, as their etcd clients redial with backoff: the one still
  // slow (the one with the watch) keeps its session for longer than the 3 s grace after a fault
  // of its own.
  const second = cluster.apiservers.find((a) => a.name === watch.apiserver);
  const first = cluster.apiservers.find((a) => a !== second);
  assert.ok(first && second, `the watch is served by ${watch.apiserver}`);
  first.setEtcd(true);
  await logs.waitFor({ event: 'panic_left' }, 15_000);
  const hold = await logs.waitFor({ event: 'backend_stranded_hold', backend: second.address }, 1_000);
  assert.ok(Number(hold.graceMs) >= 8_000, `grace ${String(hold.graceMs)} ms after an outage of ${String(hold.outageMs)} ms`);
  await sleep(4_000);
  assert.equal(logs.find({ event: 'backend_ejected' }), undefined, 'the session of the apiserver still slow is not moved yet');
  second.setEtcd(true);
  await logs.waitFor({ event: 'backend_state', backend: second.address, from: 'draining', to: 'up' }, 10_000);
  assert.equal(logs.find({ event: 'backend_ejected' }), undefined);
  assert.equal(watch.ended, '', 'the watch is still open');
});

test('etcd back for all but one apiserver: the sessions it strands move after the grace the outage earned', async (t) => {
  const { cluster, lb, logs } = await clusterBehindProxy(t, 2);
  const [first, second] = cluster.apiservers as [FakeApiserver, FakeApiserver];
  const watches = [watchThrough(lb, cluster, t), watchThrough(lb, cluster, t)];
  await sleep(500);
  for (const a of cluster.apiservers) a.setEtcd(false);
  await logs.waitFor({ event: 'panic_entered' }, 15_000);
  await sleep(2_000);
  first.setEtcd(true);
  await logs.waitFor({ event: 'panic_left' }, 15_000);
  const left = Date.now();
  const hold = await logs.waitFor({ event: 'backend_stranded_hold', backend: second.address }, 1_000);
  const ejected = await logs.waitFor({ event: 'backend_ejected', backend: second.address }, 30_000);
  const waited = Date.now() - left;
  assert.equal(ejected.reason, 'slow');
  assert.ok(waited >= Number(hold.graceMs) - 500, `moved after ${waited} ms, grace ${String(hold.graceMs)} ms`);
  const moved = watches.filter((w) => w.apiserver === second.name);
  await waitUntil(() => moved.every((w) => w.ended !== ''), 'the stranded watches closed', 5_000);
  assert.equal(logs.find({ event: 'backend_ejected', backend: first.address }), undefined);
});

test('graceful shutdown with --shutdown-delay-duration 0: the listener closes at once, and the watches it still serves are not reset', async (t) => {
  const { cluster, lb, logs } = await clusterBehindProxy(t, 2);
  const watches = Array.from({ length: 4 }, () => watchThrough(lb, cluster, t));
  await sleep(1_000);
  const [going] = cluster.apiservers;
  assert.ok(going);
  const onGoing = watches.filter((w) => w.apiserver === going.name);
  assert.ok(onGoing.length > 0, `watches on ${going.name}: ${watches.map((w) => w.apiserver).join(',')}`);
  going.shutdown({ shutdownDelayMs: 0, hardCloseAfterMs: 8_000 });
  await logs.waitFor({ event: 'backend_state', backend: going.address, to: 'down' }, 10_000);
  const before = onGoing.map((w) => w.lines);
  cluster.store.add({ name: 'after-the-listener-closed' });
  await sleep(1_000);
  onGoing.forEach((w, i) => {
    assert.equal(w.ended, '', 'still open');
    assert.ok(w.lines > (before[i] ?? 0), 'still streaming from the stopping apiserver');
  });
  // They run on until the apiserver itself ends them (here after 8 s, as the process exits).
  await sleep(4_000);
  for (const w of onGoing) assert.equal(w.ended, '', 'still open until the apiserver ends it');
  assert.equal(logs.find({ event: 'backend_ejected', backend: going.address }), undefined);
});

test('a restarted apiserver gets no session while it answers 403 and then /readyz 500; it does once ready', async (t) => {
  const { cluster, lb, logs } = await clusterBehindProxy(t, 2);
  const [restarted, other] = cluster.apiservers;
  assert.ok(restarted && other);
  restarted.crash();
  await logs.waitFor({ event: 'backend_state', backend: restarted.address, to: 'down' }, 10_000);
  const revived = Date.now();
  await restarted.revive({ startup: 'real' });
  const served = new Map<string, number>();
  while (restarted.state.kind !== 'serving' || Date.now() - revived < 2_000) {
    const answer = await h1Request({ port: lb.port, caPem: cluster.pki.ca.certPem }, '/version');
    const by = String(answer.headers['x-fake-apiserver'] ?? '');
    served.set(by, (served.get(by) ?? 0) + 1);
    assert.equal(by, other.name, `served by ${by} while ${restarted.name} is ${JSON.stringify(restarted.state)}`);
    await sleep(100);
  }
  assert.ok((served.get(other.name) ?? 0) > 10);
  // down -> draining (403 where the other accepts the credential, then 500) -> up once ready.
  await logs.waitFor({ event: 'backend_state', backend: restarted.address, from: 'down', to: 'draining' }, 20_000);
  await logs.waitFor({ event: 'backend_state', backend: restarted.address, from: 'draining', to: 'up' }, 20_000);
});
