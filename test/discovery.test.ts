import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type TestContext, test } from 'node:test';
import type { DiscoveryConfig, HealthConfig } from '../src/config/schema.js';
import { type FakeApiserver, h1Request, h2Connect, h2Request } from './fake-apiserver/index.js';
import { type LogSink, logSink } from './helpers/logs.js';
import { promtoolProblems } from './helpers/prometheus.js';
import { type LoopbackCluster, type LoopbackClusterOptions, loopbackCluster } from './helpers/loopback-cluster.js';
import { type TestProxy, startProxy, testConfig } from './helpers/proxy.js';
import { docsDiscoveryRbac } from './helpers/discovery-rbac.js';
import { waitUntil } from './helpers/wait.js';

const FAST = { scheme: 'https' as const, intervalMs: 100, timeoutMs: 500, rise: 1, fall: 2 };

interface Setup {
  cluster: LoopbackCluster;
  lb: TestProxy;
  logs: LogSink;
  seed: FakeApiserver;
  /** The name of the apiserver that answered one request through the proxy. */
  servedBy(): Promise<string>;
  /** Polls until a request through the proxy is answered by `name`. */
  reach(name: string): Promise<void>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/**
 * `n` apiservers, all advertised; a proxy with discovery on and apiserver-1 as its only seed,
 * checking with the bearer token of the user docs/discovery.md binds (anonymous may not list
 * endpointslices).
 */
async function setup(t: TestContext, n: number, o: { cluster?: LoopbackClusterOptions; health?: Partial<HealthConfig>;
  discovery?: Partial<DiscoveryConfig>; drainTimeoutMs?: number; advertise?: boolean } = {}): Promise<Setup> {
  const cluster = await loopbackCluster(n, { startup: 'instant', rbac: docsDiscoveryRbac(), ...o.cluster });
  t.after(() => cluster.close());
  if (o.advertise !== false) cluster.advertise();
  const [seed] = cluster.apiservers;
  assert.ok(seed);
  const logs = logSink();
  const caFile = cluster.file('ca.crt', cluster.pki.ca.certPem);
  const tokenFile = cluster.file('token', `${cluster.pki.probeToken}\n`);
  const lb = await startProxy({
    backends: [seed.address],
    drainTimeoutMs: o.drainTimeoutMs ?? 60_000,
    health: { ...FAST, caFile, auth: 'token', tokenFile, ...o.health },
    discovery: { enabled: true, portOverride: 0, stateDir: '', ...o.discovery },
  }, logs);
  t.after(() => lb.close());
  const servedBy = async (): Promise<string> => {
    const answer = await h1Request({ port: lb.port, caPem: cluster.pki.ca.certPem }, '/version');
    assert.equal(answer.status, 200);
    return String(answer.headers['x-fake-apiserver']);
  };
  return {
    cluster, lb, logs, seed, servedBy,
    reach: async (name) => void (await waitUntil(async () => (await servedBy()) === name, `a request answered by ${name}`)),
    metric: async (name, labels = {}) => {
      const metric = (await lb.registry.getMetricsAsJSON()).find((m) => m.name === name);
      const hit = metric?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
      return hit?.value ?? 0;
    },
  };
}

/** Addresses of the pool's backends, sorted. */
function backendsOf(lb: TestProxy): string[] {
  return lb.app.pool.backends.map((b) => b.address).sort();
}

function addressesOf(apiservers: readonly FakeApiserver[]): string[] {
  return apiservers.map((a) => a.address).sort();
}

test('with one seed, the apiservers the EndpointSlice lists become backends; a fourth joins without a restart', async (t) => {
  const { cluster, lb, logs, seed, reach, metric } = await setup(t, 3);
  await waitUntil(() => backendsOf(lb).length === 3, 'three backends');
  assert.deepEqual(backendsOf(lb), addressesOf(cluster.apiservers));
  for (const a of cluster.apiservers.slice(1)) {
    const line = await logs.waitFor({ event: 'backend_discovered', backend: a.address });
    assert.equal(line['seed'], false);
  }
  assert.equal((await logs.waitFor({ event: 'backend_discovered', backend: seed.address }))['seed'], true);
  for (const a of cluster.apiservers) await reach(a.name);
  assert.equal(await metric('kube_local_lb_discovered_backends'), 3);
  assert.ok((await metric('kube_local_lb_discovery_events_total', { type: 'relist' })) >= 1);
  assert.equal(promtoolProblems(await lb.registry.metrics()), undefined);

  const fourth = await cluster.add();
  cluster.advertise();
  await logs.waitFor({ event: 'backend_discovered', backend: fourth.address });
  await reach(fourth.name);
  assert.equal(await metric('kube_local_lb_discovered_backends'), 4);
  assert.ok((await metric('kube_local_lb_discovery_events_total', { type: 'MODIFIED' })) >= 1);
  assert.equal(logs.find({ event: 'discovery_error' }), undefined);
});

test('an apiserver gone from the EndpointSlice is drained: its session keeps working until the drain timeout', async (t) => {
  const { cluster, lb, logs, seed } = await setup(t, 3, { drainTimeoutMs: 1500 });
  await waitUntil(() => lb.app.pool.backends.filter((b) => b.state.kind === 'up').length === 3, 'three backends up');
  // A long-lived client connection (kubelet's HTTP/2 one, with its client certificate: an
  // anonymous HTTP/2 connection is closed after one request) on an apiserver that is not the seed.
  const caPem = cluster.pki.ca.certPem;
  const kubelet = { certPem: cluster.pki.node.certPem, keyPem: cluster.pki.node.keyPem };
  let held: { session: Awaited<ReturnType<typeof h2Connect>>; name: string } | undefined;
  const spare: Awaited<ReturnType<typeof h2Connect>>[] = [];
  t.after(() => {
    held?.session.destroy();
    for (const s of spare) s.destroy();
  });
  await waitUntil(async () => {
    const session = await h2Connect({ port: lb.port, caPem, cert: kubelet });
    const name = String((await h2Request(session, '/version')).headers['x-fake-apiserver']);
    if (name === seed.name) spare.push(session);
    else held = { session, name };
    return held;
  }, 'a session on an apiserver other than the seed');
  assert.ok(held);
  const gone = cluster.apiservers.find((a) => a.name === held?.name);
  assert.ok(gone);

  cluster.advertise(cluster.apiservers.filter((a) => a !== gone));
  await logs.waitFor({ event: 'backend_undiscovered', backend: gone.address });
  const removed = await logs.waitFor({ event: 'backend_removed', backend: gone.address });
  assert.equal(removed['sessions'], 1);
  assert.deepEqual(backendsOf(lb), addressesOf(cluster.apiservers.filter((a) => a !== gone)));
  // Drained, not ejected: the held session is still served by the same apiserver...
  const answer = await h2Request(held.session, '/version');
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['x-fake-apiserver'], gone.name);
  assert.equal(logs.find({ event: 'backend_ejected', backend: gone.address }), undefined);
  // ...and new sessions never go there.
  for (let i = 0; i < 10; i++) {
    const fresh = await h1Request({ port: lb.port, caPem }, '/version');
    assert.notEqual(fresh.headers['x-fake-apiserver'], gone.name);
  }
  // After the drain timeout the proxy closes it.
  if (!held.session.closed && !held.session.destroyed) await once(held.session, 'close');

  // The seed is never removed, even when the EndpointSlice no longer lists it.
  cluster.advertise(cluster.apiservers.filter((a) => a !== gone && a !== seed));
  const undiscovered = await logs.waitFor({ event: 'backend_undiscovered', backend: seed.address });
  assert.equal(undiscovered['seed'], true);
  assert.ok(backendsOf(lb).includes(seed.address));
  assert.equal(logs.find({ event: 'backend_removed', backend: seed.address }), undefined);
});

test('410 Gone on the watch: a relist, and discovery goes on following', async (t) => {
  const { cluster, lb, logs, metric } = await setup(t, 3);
  await waitUntil(() => backendsOf(lb).length === 3, 'three backends');
  // The watch is open once a change travels through it.
  cluster.advertise(cluster.apiservers.slice(0, 2));
  await waitUntil(() => backendsOf(lb).length === 2, 'the third gone');
  const relists = await metric('kube_local_lb_discovery_events_total', { type: 'relist' });
  cluster.endpoints.expireWatches();
  await logs.waitFor({ event: 'discovery_relist' });
  await waitUntil(async () => (await metric('kube_local_lb_discovery_events_total', { type: 'relist' })) > relists, 'a second LIST');
  cluster.advertise();
  await waitUntil(() => backendsOf(lb).length === 3, 'the third back, seen through the new watch');
  assert.equal(logs.find({ event: 'discovery_error' }), undefined, '410 is not an error');
});

test('an empty EndpointSlice, or none at all, keeps the last good list', async (t) => {
  const { cluster, lb, logs, reach, metric } = await setup(t, 3);
  await waitUntil(() => backendsOf(lb).length === 3, 'three backends');
  cluster.endpoints.set([], cluster.port);
  const kept = await logs.waitFor({ event: 'discovery_error', reason: 'empty' });
  assert.equal(kept['level'], 'warn');
  cluster.endpoints.remove();
  await waitUntil(async () => (await metric('kube_local_lb_discovery_events_total', { type: 'DELETED' })) >= 1, 'the DELETED event');
  assert.deepEqual(backendsOf(lb), addressesOf(cluster.apiservers));
  assert.equal(await metric('kube_local_lb_discovered_backends'), 3);
  assert.ok((await metric('kube_local_lb_discovery_errors_total', { reason: 'empty' })) >= 2);
  for (const a of cluster.apiservers) await reach(a.name);
});

test('a dead apiserver the EndpointSlice keeps listing (master-count) is a backend the checks keep out', async (t) => {
  const { cluster, lb, servedBy } = await setup(t, 2, { advertise: false });
  // Nothing listens on this address: as an apiserver that died and is still listed.
  const stale = `${cluster.apiservers[0]?.host.replace(/\.\d+$/, '.99')}`;
  cluster.endpoints.set([...cluster.apiservers.map((a) => a.host), stale], cluster.port);
  const staleAddress = `${stale}:${cluster.port}`;
  await waitUntil(() => lb.app.pool.backends.find((b) => b.address === staleAddress)?.state.kind === 'down', 'the stale backend down');
  const names = new Set<string>();
  for (let i = 0; i < 20; i++) names.add(await servedBy());
  assert.deepEqual([...names].sort(), cluster.apiservers.map((a) => a.name).sort());
});

test('--discover-port-override: advertised on a port nothing listens on, dialled on the real one', async (t) => {
  const cluster = await loopbackCluster(2, { startup: 'instant', rbac: docsDiscoveryRbac() });
  t.after(() => cluster.close());
  // As with --advertise-address on a VIP: port 443 there, the apiservers on their own port.
  cluster.advertise(cluster.apiservers, 443);
  const logs = logSink();
  const lb = await startProxy({
    backends: [cluster.apiservers[0]?.address ?? ''],
    health: { ...FAST, caFile: cluster.file('ca.crt', cluster.pki.ca.certPem), auth: 'token', tokenFile: cluster.file('token', cluster.pki.probeToken) },
    discovery: { enabled: true, portOverride: cluster.port, stateDir: '' },
  }, logs);
  t.after(() => lb.close());
  await waitUntil(() => backendsOf(lb).length === 2, 'two backends');
  assert.deepEqual(backendsOf(lb), addressesOf(cluster.apiservers));
  await waitUntil(() => lb.app.pool.backends.every((b) => b.state.kind === 'up'), 'both up');
});

test('where EndpointSlices are not served (404), Endpoints default/kubernetes is followed; not-ready addresses are left out', async (t) => {
  const { cluster, lb, logs } = await setup(t, 3, { cluster: { servesEndpointSlices: false }, advertise: false });
  const [a1, a2, a3] = cluster.apiservers;
  assert.ok(a1 && a2 && a3);
  cluster.endpoints.set([a1.host, a2.host, { ip: a3.host, ready: false }], cluster.port);
  const source = await logs.waitFor({ event: 'discovery_source' });
  assert.equal(source['resource'], 'endpoints');
  await waitUntil(() => backendsOf(lb).length === 2, 'two backends');
  assert.deepEqual(backendsOf(lb), addressesOf([a1, a2]));
  cluster.advertise();
  await logs.waitFor({ event: 'backend_discovered', backend: a3.address });
  assert.deepEqual(backendsOf(lb), addressesOf(cluster.apiservers));
});

test('a credential that may not list endpointslices (403): an error naming it, the seeds stay', async (t) => {
  const { lb, logs, seed } = await setup(t, 2, { health: { auth: 'anonymous', tokenFile: undefined } });
  assert.ok(logs.find({ event: 'discovery_anonymous' }));
  const error = await logs.waitFor({ event: 'discovery_error', reason: 'forbidden' });
  assert.equal(error['level'], 'error');
  assert.equal(error['backend'], seed.address);
  assert.match(String(error['error']), /endpointslices\.discovery\.k8s\.io is forbidden: User "system:anonymous" cannot list resource "endpointslices"/);
  assert.deepEqual(backendsOf(lb), [seed.address]);
});

test('the apiserver discovery watches through dies: it moves to another and keeps following', async (t) => {
  const { cluster, lb, logs, seed } = await setup(t, 3);
  await waitUntil(() => lb.app.pool.backends.filter((b) => b.state.kind === 'up').length === 3, 'three backends up');
  // Discovery started when the seed was the only backend: its LIST and WATCH went there.
  seed.crash();
  await logs.waitFor({ event: 'discovery_error', backend: seed.address });
  const fourth = await cluster.add();
  cluster.advertise();
  await logs.waitFor({ event: 'backend_discovered', backend: fourth.address });
  await waitUntil(() => lb.app.pool.backends.find((b) => b.address === fourth.address)?.state.kind === 'up', 'the fourth up');
});

test('a reload that turns discovery off removes (drains) the discovered backends, and one that turns it on finds them again', async (t) => {
  const { cluster, lb, logs, seed } = await setup(t, 3);
  await waitUntil(() => backendsOf(lb).length === 3, 'three backends');
  const config = (enabled: boolean) => testConfig({
    backends: [seed.address],
    health: { ...FAST, caFile: cluster.file('ca.crt', cluster.pki.ca.certPem), auth: 'token', tokenFile: cluster.file('token', cluster.pki.probeToken) },
    discovery: { enabled, portOverride: 0, stateDir: '' },
  });
  await lb.app.reload(config(false));
  await logs.waitFor({ event: 'discovery_stopped' });
  assert.deepEqual(backendsOf(lb), [seed.address]);
  await lb.app.reload(config(true));
  await waitUntil(() => backendsOf(lb).length === 3, 'three backends again');
  assert.equal(logs.all({ event: 'discovery_started' }).length, 2);
});
