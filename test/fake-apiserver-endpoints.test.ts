import assert from 'node:assert/strict';
import https from 'node:https';
import { type TestContext, test } from 'node:test';
import { type FakeApiserver, KubernetesEndpoints, h1Request, startFakeApiserver, waitFor } from './fake-apiserver/index.js';
import { kubeconfig } from './fake-apiserver/kubeconfig.js';
import { docsDiscoveryRbac } from './helpers/discovery-rbac.js';

const SLICES = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
const SELECTOR = `labelSelector=${encodeURIComponent('kubernetes.io/service-name=kubernetes')}`;

async function start(t: TestContext, o: { servesEndpointSlices?: boolean; bookmarkIntervalMs?: number } = {}): Promise<{ fake: FakeApiserver; token: string; caPem: string }> {
  // Ready at once, and the user docs/discovery.md binds: these tests are about the objects.
  const fake = await startFakeApiserver({ name: 'a1', startup: 'instant', rbac: docsDiscoveryRbac(), ...o });
  t.after(() => fake.close());
  assert.ok(fake.pki);
  return { fake, token: fake.pki.probeToken, caPem: fake.pki.ca.certPem };
}

/** A WATCH over HTTP/1.1: its lines as they come, and its end. */
function watchLines(port: number, caPem: string, token: string, path: string): { lines: unknown[]; ended: Promise<void>; stop(): void } {
  const lines: unknown[] = [];
  let stop = (): void => undefined;
  const ended = new Promise<void>((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, ca: caPem, servername: 'kubernetes', agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      let pending = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf('\n')) >= 0) {
          lines.push(JSON.parse(pending.slice(0, end)));
          pending = pending.slice(end + 1);
        }
      });
      res.on('end', () => resolve());
      res.on('error', () => resolve());
    });
    req.on('error', reject);
    stop = () => req.destroy();
  });
  return { lines, ended, stop };
}

test('EndpointSlice and Endpoints default/kubernetes look as the endpoint reconciler writes them', async (t) => {
  const { fake, token, caPem } = await start(t);
  fake.endpoints.set(['10.0.0.11', { ip: '10.0.0.12', ready: false }], 6443);
  const auth = { headers: { authorization: `Bearer ${token}` } };
  const list = JSON.parse((await h1Request({ port: fake.port, caPem }, `${SLICES}?${SELECTOR}`, auth)).body) as Record<string, unknown>;
  assert.equal(list['kind'], 'EndpointSliceList');
  assert.equal(list['apiVersion'], 'discovery.k8s.io/v1');
  assert.deepEqual(list['metadata'], { resourceVersion: String(fake.endpoints.resourceVersion) });
  const [slice] = list['items'] as Record<string, unknown>[];
  assert.ok(slice);
  assert.equal(slice['kind'], undefined, 'list items carry no kind');
  assert.equal((slice['metadata'] as Record<string, unknown>)['name'], 'kubernetes');
  assert.deepEqual((slice['metadata'] as Record<string, unknown>)['labels'], { 'kubernetes.io/service-name': 'kubernetes' });
  assert.equal(slice['addressType'], 'IPv4');
  assert.deepEqual(slice['endpoints'], [{ addresses: ['10.0.0.11'], conditions: { ready: true } }, { addresses: ['10.0.0.12'], conditions: { ready: false } }]);
  assert.deepEqual(slice['ports'], [{ name: 'https', protocol: 'TCP', port: 6443 }]);
  const other = JSON.parse((await h1Request({ port: fake.port, caPem }, `${SLICES}?labelSelector=kubernetes.io%2Fservice-name%3Ddns`, auth)).body) as { items: unknown[] };
  assert.deepEqual(other.items, []);

  // The docs' Role grants list and watch, not get: read the one object as an admin.
  const admin = { headers: { authorization: `Bearer ${fake.pki?.adminToken ?? ''}` } };
  const endpoints = JSON.parse((await h1Request({ port: fake.port, caPem }, '/api/v1/namespaces/default/endpoints/kubernetes', admin)).body) as Record<string, unknown>;
  assert.equal(endpoints['kind'], 'Endpoints');
  assert.deepEqual((endpoints['metadata'] as Record<string, unknown>)['labels'], { 'endpointslice.kubernetes.io/skip-mirror': 'true' });
  assert.deepEqual(endpoints['subsets'], [{ addresses: [{ ip: '10.0.0.11' }], notReadyAddresses: [{ ip: '10.0.0.12' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);

  const anonymous = await h1Request({ port: fake.port, caPem }, `${SLICES}?${SELECTOR}`);
  assert.equal(anonymous.status, 403);
  assert.equal(anonymous.body, `${JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'endpointslices.discovery.k8s.io is forbidden: User "system:anonymous" cannot list resource "endpointslices" in API group "discovery.k8s.io" in the namespace "default"',
    reason: 'Forbidden', details: { group: 'discovery.k8s.io', kind: 'endpointslices' }, code: 403 })}\n`);
});

test('the EndpointSlice watch: changes as JSON lines, bookmarks, and ERROR 410 when the history is gone', async (t) => {
  const { fake, token, caPem } = await start(t, { bookmarkIntervalMs: 50 });
  fake.endpoints.set(['10.0.0.11'], 6443);
  const from = fake.endpoints.resourceVersion;
  const watch = watchLines(fake.port, caPem, token, `${SLICES}?${SELECTOR}&watch=1&resourceVersion=${from}&allowWatchBookmarks=true`);
  t.after(() => watch.stop());
  fake.endpoints.set(['10.0.0.11', '10.0.0.12'], 6443);
  const typeOf = (line: unknown): string => String((line as { type: string }).type);
  await waitFor('MODIFIED and a BOOKMARK', () => (watch.lines.some((l) => typeOf(l) === 'MODIFIED') && watch.lines.some((l) => typeOf(l) === 'BOOKMARK') ? true : undefined));
  const modified = watch.lines.find((l) => typeOf(l) === 'MODIFIED') as { object: Record<string, unknown> };
  assert.equal(modified.object['kind'], 'EndpointSlice');
  assert.equal((modified.object['endpoints'] as unknown[]).length, 2);
  const bookmark = watch.lines.find((l) => typeOf(l) === 'BOOKMARK') as { object: Record<string, unknown> };
  assert.deepEqual(bookmark.object, { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: String(fake.endpoints.resourceVersion), creationTimestamp: null } });
  assert.ok(!watch.lines.some((l) => (l as { object: { kind: string } }).object.kind === 'Endpoints'), 'a slice watch sees no Endpoints');

  fake.endpoints.expireWatches();
  await watch.ended;
  const last = watch.lines[watch.lines.length - 1] as { type: string; object: { code: number; reason: string } };
  assert.equal(last.type, 'ERROR');
  assert.deepEqual([last.object.code, last.object.reason], [410, 'Expired']);
  // Resuming from before the compaction is refused the same way.
  const late = watchLines(fake.port, caPem, token, `${SLICES}?${SELECTOR}&watch=1&resourceVersion=${from}`);
  await late.ended;
  assert.deepEqual(late.lines.map(typeOf), ['ERROR']);
});

test('an apiserver that does not serve EndpointSlices answers 404 and still serves Endpoints', async (t) => {
  const { fake, token, caPem } = await start(t, { servesEndpointSlices: false });
  fake.endpoints.set(['10.0.0.11'], 6443);
  const auth = { headers: { authorization: `Bearer ${token}` } };
  const slices = await h1Request({ port: fake.port, caPem }, `${SLICES}?${SELECTOR}`, auth);
  assert.equal(slices.status, 404);
  assert.equal(JSON.parse(slices.body).reason, 'NotFound');
  const list = await h1Request({ port: fake.port, caPem }, `/api/v1/namespaces/default/endpoints?fieldSelector=${encodeURIComponent('metadata.name=kubernetes')}`, auth);
  assert.equal(list.status, 200);
  assert.equal((JSON.parse(list.body) as { kind: string; items: unknown[] }).items.length, 1);
  fake.serveEndpointSlices(true);
  assert.equal((await h1Request({ port: fake.port, caPem }, `${SLICES}?${SELECTOR}`, auth)).status, 200);
});

test('@kubernetes/client-node lists and watches the kubernetes EndpointSlice', async (t) => {
  const endpoints = new KubernetesEndpoints();
  endpoints.set(['10.0.0.11'], 6443);
  const fake = await startFakeApiserver({ name: 'a1', endpoints, startup: 'instant', rbac: docsDiscoveryRbac() });
  t.after(() => fake.close());
  assert.ok(fake.pki);
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfig({ server: fake.url, caPem: fake.pki.ca.certPem, tlsServerName: 'kubernetes', user: { token: fake.pki.probeToken } }));
  const list = await kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: 'default', labelSelector: 'kubernetes.io/service-name=kubernetes' });
  assert.deepEqual(list.items.map((s) => s.endpoints.map((e) => e.addresses[0])), [['10.0.0.11']]);
  const events: string[] = [];
  const controller = await new k8s.Watch(kc).watch(SLICES, { resourceVersion: list.metadata?.resourceVersion, labelSelector: 'kubernetes.io/service-name=kubernetes' },
    (phase: string, slice: { endpoints?: { addresses: string[] }[] }) => events.push(`${phase} ${(slice.endpoints ?? []).map((e) => e.addresses[0]).join(',')}`),
    () => undefined);
  t.after(() => controller.abort());
  endpoints.set(['10.0.0.11', '10.0.0.12'], 6443);
  await waitFor('the MODIFIED event', () => (events.length > 0 ? true : undefined));
  assert.deepEqual(events, ['MODIFIED 10.0.0.11,10.0.0.12']);
});
