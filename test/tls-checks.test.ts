import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { type TestContext, test } from 'node:test';
import type { HealthConfig } from '../src/config/schema.js';
import { makeClusterPki } from './fake-apiserver/index.js';
import { kubeconfig } from './fake-apiserver/kubeconfig.js';
import { fakeCluster } from './helpers/cluster.js';
import { logSink } from './helpers/logs.js';
import { startProxy } from './helpers/proxy.js';
import { waitUntil } from './helpers/wait.js';

const FAST = { scheme: 'https' as const, intervalMs: 100, timeoutMs: 500, rise: 1, fall: 2 };

/** One fake apiserver behind a proxy whose checks trust `caPem` (default: the cluster's CA). */
async function behindProxy(t: TestContext, o: { cluster?: Parameters<typeof fakeCluster>[1]; health?: Partial<HealthConfig>; caPem?: string } = {}) {
  const cluster = await fakeCluster(1, { startup: 'instant', ...o.cluster });
  t.after(() => cluster.close());
  const [apiserver] = cluster.apiservers;
  assert.ok(apiserver);
  const logs = logSink();
  const caFile = cluster.file('ca.crt', o.caPem ?? cluster.pki.ca.certPem);
  const lb = await startProxy({ backends: [apiserver.address], health: { ...FAST, caFile, ...o.health } }, logs);
  t.after(() => lb.close());
  return { cluster, apiserver, logs, lb };
}

test('with --anonymous-auth=false every credential mode is accepted: token, client certificate, kubeconfig', async (t) => {
  const cluster = await fakeCluster(1, { startup: 'instant', anonymous: 'off' });
  t.after(() => cluster.close());
  const [apiserver] = cluster.apiservers;
  assert.ok(apiserver);
  const ca = cluster.file('ca.crt', cluster.pki.ca.certPem);
  const cert = cluster.file('probe.crt', cluster.pki.probe.certPem);
  const key = cluster.file('probe.key', cluster.pki.probe.keyPem);
  const token = cluster.file('token', `${cluster.pki.userToken}\n`);
  const kcInline = cluster.file('inline.conf', kubeconfig({ server: 'https://ignored:6443', caPem: cluster.pki.ca.certPem,
    user: { certPem: cluster.pki.probe.certPem, keyPem: cluster.pki.probe.keyPem } }));
  // kubelet.conf style: file paths, relative to the kubeconfig's own directory.
  const kcPaths = cluster.file('paths.conf', [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    'clusters: [{name: k, cluster: {server: "https://x:6443", certificate-authority: ca.crt}}]',
    'users: [{name: u, user: {client-certificate: probe.crt, client-key: probe.key}}]',
    'contexts: [{name: c, context: {cluster: k, user: u}}]', ''].join('\n'));
  const modes = [
    { auth: 'token' as const, tokenFile: token, caFile: ca },
    { auth: 'client-cert' as const, clientCertFile: cert, clientKeyFile: key, caFile: ca },
    { auth: 'kubeconfig' as const, kubeconfigFile: kcInline },
    { auth: 'kubeconfig' as const, kubeconfigFile: kcPaths },
  ];
  for (const mode of modes) {
    const logs = logSink();
    const lb = await startProxy({ backends: [apiserver.address], health: { ...FAST, ...mode } }, logs);
    const up = await logs.waitFor({ event: 'backend_state', backend: apiserver.address, to: 'up' });
    assert.equal(up['reason'], 'ok', `${mode.auth}: a real pass, not an unauthorized one`);
    assert.equal(logs.find({ event: 'backend_check_unauthorized' }), undefined, mode.auth);
    await lb.close();
  }
});

test('anonymous checks against --anonymous-auth=false get 401: the backend stays in service, the log names the credential', async (t) => {
  const { apiserver, logs, lb } = await behindProxy(t, { cluster: { anonymous: 'off' } });
  const line = await logs.waitFor({ event: 'backend_check_unauthorized' });
  assert.equal(line['reason'], 'unauthorized');
  assert.equal(line['credential'], 'anonymous');
  await logs.waitFor({ event: 'backend_state', backend: apiserver.address, to: 'up' });
  const m = await lb.registry.getSingleMetricAsString('kube_local_lb_backend_check_authorized');
  assert.match(m, / 0$/m);
});

test('anonymous checks where system:public-info-viewer is unbound get 403 and stay in service', async (t) => {
  const { apiserver, logs } = await behindProxy(t, { cluster: { publicInfoViewer: false } });
  assert.equal((await logs.waitFor({ event: 'backend_check_unauthorized' }))['reason'], 'forbidden');
  await logs.waitFor({ event: 'backend_state', backend: apiserver.address, to: 'up' });
});

test('a rotated token file is read again: a bad token (401) becomes a good one without a restart', async (t) => {
  const cluster = await fakeCluster(1, { startup: 'instant', anonymous: 'off' });
  t.after(() => cluster.close());
  const [apiserver] = cluster.apiservers;
  assert.ok(apiserver);
  const tokenFile = cluster.file('token', 'not-a-valid-token');
  const logs = logSink();
  const lb = await startProxy({ backends: [apiserver.address], health: { ...FAST, auth: 'token', tokenFile,
    caFile: cluster.file('ca.crt', cluster.pki.ca.certPem) } }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_check_unauthorized' });
  writeFileSync(tokenFile, cluster.pki.userToken);
  await logs.waitFor({ event: 'backend_check_authorized', backend: apiserver.address });
  // The token never reaches the logs.
  assert.ok(!logs.text().includes(cluster.pki.userToken));
  assert.ok(!logs.text().includes('not-a-valid-token'));
});

test('a serving certificate without the server name fails the check (tls_name) and the backend goes down', async (t) => {
  const wrong = makeClusterPki({ sans: { dnsNames: ['some-other-name'], ipAddresses: ['10.0.0.9'] } });
  const { apiserver, logs } = await behindProxy(t, { cluster: { pki: wrong }, caPem: wrong.ca.certPem });
  const down = await logs.waitFor({ event: 'backend_state', backend: apiserver.address, to: 'down' });
  assert.equal(down['reason'], 'tls_name');
});

test('a CA that did not sign the serving certificate fails the check (tls_verify)', async (t) => {
  const other = makeClusterPki();
  const { apiserver, logs } = await behindProxy(t, { caPem: other.ca.certPem });
  const down = await logs.waitFor({ event: 'backend_state', backend: apiserver.address, to: 'down' });
  assert.equal(down['reason'], 'tls_verify');
});

test('checks reuse one kept-alive TLS connection: many checks, one handshake', async (t) => {
  const { apiserver } = await behindProxy(t, { health: { intervalMs: 50 } });
  await waitUntil(() => (apiserver.counters.requestsByPath.get('/readyz') ?? 0) >= 20, '20 checks');
  assert.equal(apiserver.counters.tlsHandshakes, 1);
});

test('graceful shutdown of an apiserver: readyz 500 drains it, the closed listener takes it down', async (t) => {
  const cluster = await fakeCluster(2, { startup: 'instant' });
  t.after(() => cluster.close());
  const [going, staying] = cluster.apiservers;
  assert.ok(going && staying);
  const logs = logSink();
  const lb = await startProxy({ backends: [going.address, staying.address],
    health: { ...FAST, caFile: cluster.file('ca.crt', cluster.pki.ca.certPem) } }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_state', backend: going.address, to: 'up' });
  // Go's Server.Shutdown closes idle kept-alive connections, such as the checks' one.
  going.shutdown({ shutdownDelayMs: 800, closeIdleHttp1: true });
  const draining = await logs.waitFor({ event: 'backend_state', backend: going.address, to: 'draining' });
  assert.equal(draining['reason'], 'shutting_down');
  const down = await logs.waitFor({ event: 'backend_state', backend: going.address, to: 'down' });
  assert.equal(down['from'], 'draining');
});

test('a silent apiserver is confirmed by a hedge probe: down 1.5 check timeouts after its first silent check, not 2', async (t) => {
  const health = { intervalMs: 100, timeoutMs: 1000, fall: 2 };
  const { apiserver, logs } = await behindProxy(t, { health });
  await logs.waitFor({ event: 'backend_state', backend: apiserver.address, to: 'up' });
  const silentAt = Date.now();
  await apiserver.blackhole();
  await logs.waitFor({ event: 'backend_state', backend: apiserver.address, to: 'down' }, 5000);
  const tookMs = Date.now() - silentAt;
  // Without the hedge: up to interval x 1.2 + 2 x timeout = 2120 ms.
  assert.ok(tookMs < 1.2 * health.intervalMs + 1.5 * health.timeoutMs + 350, `down after ${tookMs} ms`);
});

test('a kubeconfig whose client certificate file rotates (kubelet.conf style) is read again', async (t) => {
  const cluster = await fakeCluster(1, { startup: 'instant', anonymous: 'off' });
  t.after(() => cluster.close());
  const [apiserver] = cluster.apiservers;
  assert.ok(apiserver);
  // First a certificate of another CA: the apiserver answers 401.
  const stranger = makeClusterPki().probe;
  const certFile = cluster.file('client-current.pem', stranger.certPem + stranger.keyPem);
  cluster.file('ca.crt', cluster.pki.ca.certPem);
  const kc = cluster.file('kubelet.conf', [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    'clusters: [{name: k, cluster: {server: "https://x:6443", certificate-authority: ca.crt}}]',
    'users: [{name: u, user: {client-certificate: client-current.pem, client-key: client-current.pem}}]',
    'contexts: [{name: c, context: {cluster: k, user: u}}]', ''].join('\n'));
  const logs = logSink();
  const lb = await startProxy({ backends: [apiserver.address], health: { ...FAST, auth: 'kubeconfig', kubeconfigFile: kc } }, logs);
  t.after(() => lb.close());
  assert.equal((await logs.waitFor({ event: 'backend_check_unauthorized' }))['reason'], 'unauthorized');
  // kubelet rotates its certificate; the kubeconfig itself does not change.
  writeFileSync(certFile, cluster.pki.probe.certPem + cluster.pki.probe.keyPem);
  await logs.waitFor({ event: 'backend_check_authorized', backend: apiserver.address });
});
