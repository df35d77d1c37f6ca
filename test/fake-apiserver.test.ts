import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { once } from 'node:events';
import https from 'node:https';
import { test, type TestContext } from 'node:test';
import tls from 'node:tls';
import { checkNames, kubeconfig, makeClusterPki, startFakeApiserver, type FakeApiserver, type FakeApiserverOptions } from './fake-apiserver/index.js';
import { h1Request, h2Connect, h2Request, tcpConnect, waitFor, type Target } from './fake-apiserver/clients.js';

const execFileAsync = promisify(execFile);
const commandExists = (command: string, args = ['--version']): Promise<boolean> =>
  execFileAsync(command, args).then(() => true, () => false);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const FORBIDDEN_ROOT = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \\"system:anonymous\\" cannot get path \\"/\\"","reason":"Forbidden","details":{},"code":403}\n';
const UNAUTHORIZED = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n';

/** An imitation that is ready at once: these tests are about a running apiserver, not a starting one. */
async function start(t: TestContext, options: Partial<FakeApiserverOptions> = {}): Promise<{ fake: FakeApiserver; anon: Target; admin: Target }> {
  const fake = await startFakeApiserver({ name: 'apiserver-1', startup: 'instant', ...options });
  t.after(() => fake.close());
  const pki = fake.pki;
  if (!pki) throw new Error('expected a generated PKI');
  return { fake, anon: { port: fake.port, caPem: pki.ca.certPem }, admin: { port: fake.port, caPem: pki.ca.certPem, cert: pki.admin } };
}

function verbose(root: 'livez' | 'readyz' | 'healthz', failing: readonly string[] = []): string {
  const lines = checkNames(root).map((name) => (failing.includes(name) ? `[-]${name} failed: reason withheld\n` : `[+]${name} ok\n`));
  return `${lines.join('')}${root} check ${failing.length > 0 ? 'failed' : 'passed'}\n`;
}

test('TLS: ALPN offers h2 and http/1.1, TLS < 1.2 is refused, the kubeadm SANs lack 127.0.0.1', async (t) => {
  const { anon } = await start(t);
  for (const [offered, expected] of [[['h2', 'http/1.1'], 'h2'], [['http/1.1'], 'http/1.1']] as const) {
    const socket = tls.connect({ port: anon.port, host: '127.0.0.1', ca: anon.caPem, servername: 'kubernetes', ALPNProtocols: [...offered] });
    await once(socket, 'secureConnect');
    assert.equal(socket.alpnProtocol, expected);
    assert.ok(socket.authorized);
    socket.destroy();
  }
  const old = tls.connect({ port: anon.port, host: '127.0.0.1', ca: anon.caPem, servername: 'kubernetes', maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
  const [oldError] = (await once(old, 'error')) as [NodeJS.ErrnoException];
  assert.match(String(oldError.code), /ERR_SSL_(UNSUPPORTED_PROTOCOL|TLSV1_ALERT_PROTOCOL_VERSION|NO_PROTOCOLS_AVAILABLE)/);
  await assert.rejects(h1Request({ ...anon, servername: '' }, '/readyz'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

test('/livez, /readyz, /healthz answer ok, text/plain, nosniff, Audit-Id and Cache-Control, on HTTP/1.1 and HTTP/2', async (t) => {
  const { anon } = await start(t);
  for (const path of ['/livez', '/readyz', '/healthz']) {
    const answer = await h1Request(anon, path);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'ok');
    assert.equal(answer.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    assert.equal(answer.headers['cache-control'], 'no-cache, private');
    assert.match(String(answer.headers['audit-id']), UUID);
    assert.equal(answer.headers['x-fake-apiserver'], 'apiserver-1');
  }
  const session = await h2Connect(anon);
  t.after(() => session.destroy());
  const answer = await h2Request(session, '/readyz', { 'audit-id': 'chosen-by-client' });
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'ok');
  assert.equal(answer.headers['audit-id'], 'chosen-by-client', 'a client-sent Audit-ID is echoed');
  assert.equal(answer.headers['cache-control'], 'no-cache, private');
});

test('?verbose is presence-only and lists the checks of each root; shutdown is readyz-only and last', async (t) => {
  const { anon } = await start(t);
  for (const root of ['livez', 'readyz', 'healthz'] as const) {
    for (const query of ['?verbose', '?verbose=false', '?verbose=1']) {
      const answer = await h1Request(anon, `/${root}${query}`);
      assert.equal(answer.status, 200);
      assert.equal(answer.body, verbose(root), `${root}${query}`);
    }
  }
  const readyz = checkNames('readyz');
  assert.equal(readyz.at(-1), 'shutdown');
  assert.deepEqual(readyz.slice(0, 5), ['ping', 'log', 'etcd', 'etcd-readiness', 'informer-sync']);
  assert.ok(!checkNames('livez').includes('shutdown') && !checkNames('healthz').includes('etcd-readiness'));
});

test('?exclude is repeatable: excluded checks say so, unknown names give one sorted warn line', async (t) => {
  const { anon } = await start(t);
  const answer = await h1Request(anon, '/readyz?verbose&exclude=nope&exclude=etcd&exclude=also-nope');
  assert.equal(answer.status, 200);
  const expected = verbose('readyz').replace('[+]etcd ok\n', '[+]etcd excluded: ok\n')
    .replace('readyz check passed\n', 'warn: some health checks cannot be excluded: no matches for "also-nope","nope"\nreadyz check passed\n');
  assert.equal(answer.body, expected);
  assert.equal((await h1Request(anon, '/readyz?exclude=etcd')).body, 'ok', 'without verbose a pass is just ok');
});

test('etcd down fails etcd on all three roots: 500, always verbose, reason withheld', async (t) => {
  // Short check timeouts: this test is about the bodies; fake-apiserver-real.test.ts times the default 2 s.
  const { fake, anon, admin } = await start(t, { etcdHealthcheckTimeoutMs: 100, etcdReadycheckTimeoutMs: 100 });
  fake.setEtcd(false);
  for (const root of ['livez', 'readyz', 'healthz'] as const) {
    const answer = await h1Request(anon, `/${root}`);
    assert.equal(answer.status, 500);
    assert.equal(answer.body, verbose(root, root === 'readyz' ? ['etcd', 'etcd-readiness'] : ['etcd']));
    assert.equal(answer.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
  }
  assert.equal((await h1Request(anon, '/readyz?exclude=etcd&exclude=etcd-readiness')).status, 200);
  const sub = await h1Request(admin, '/readyz/etcd');
  assert.deepEqual([sub.status, sub.body], [500, 'internal server error: error getting data from etcd: context deadline exceeded\n']);
  fake.setEtcd(true);
  assert.equal((await h1Request(anon, '/livez')).body, 'ok');
});

test('subpaths answer ok or 500 internal server error; unknown checks are 404', async (t) => {
  const { fake, admin } = await start(t);
  const ping = await h1Request(admin, '/livez/ping');
  assert.deepEqual([ping.status, ping.body, ping.headers['content-type']], [200, 'ok', 'text/plain; charset=utf-8']);
  assert.equal((await h1Request(admin, '/readyz/poststarthook/rbac/bootstrap-roles')).body, 'ok');
  assert.equal((await h1Request(admin, '/livez/shutdown')).status, 404, 'shutdown is a readyz check only');
  void fake.shutdown({ shutdownDelayMs: 60_000 });
  const shutdown = await h1Request(admin, '/readyz/shutdown');
  assert.deepEqual([shutdown.status, shutdown.body], [500, 'internal server error: process is shutting down\n']);
});

test('anonymous may get exactly /livez, /readyz, /healthz, /version; anything else is 403 with the exact Status', async (t) => {
  const { anon } = await start(t);
  const root = await h1Request(anon, '/');
  assert.equal(root.status, 403);
  assert.equal(root.body, FORBIDDEN_ROOT);
  assert.equal(root.headers['content-type'], 'application/json');
  assert.equal(root.headers['x-content-type-options'], 'nosniff');
  for (const path of ['/readyz/etcd', '/livez/ping', '/api', '/metrics', '/version/x']) {
    const answer = await h1Request(anon, path);
    assert.equal(answer.status, 403, path);
    assert.equal(answer.body, FORBIDDEN_ROOT.replace('path \\"/\\"', `path \\"${path}\\"`));
  }
  assert.equal((await h1Request(anon, '/readyz', { method: 'POST' })).body, FORBIDDEN_ROOT.replace('get path \\"/\\"', 'post path \\"/readyz\\"'));
  const version = await h1Request(anon, '/version');
  assert.equal(version.status, 200);
  assert.equal(JSON.parse(version.body).gitVersion, 'v1.32.4');
  assert.ok(version.body.startsWith('{\n  "major": "1",'), '/version is always indented');
  const pods = await h1Request(anon, '/api/v1/namespaces/default/pods');
  assert.equal(JSON.parse(pods.body).message, 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"');
});

test('curl (HTTP/2 and HTTP/1.1) gets ok, and the 403 indented as the apiserver does for curl', async (t) => {
  const { anon } = await start(t);
  if (!(await commandExists('curl'))) {
    t.skip('curl not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'fake-apiserver-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.crt'), anon.caPem);
  // Async on purpose: the server runs in this process, a synchronous spawn would starve it.
  const curl = async (...args: string[]): Promise<string> =>
    (await execFileAsync('curl', ['-sS', '--cacert', join(dir, 'ca.crt'), '--resolve', `kubernetes:${anon.port}:127.0.0.1`, ...args])).stdout;
  const base = `https://kubernetes:${anon.port}`;
  assert.equal(await curl('--http2', `${base}/readyz`), 'ok');
  assert.equal(await curl('-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--http2', `${base}/livez`), '2 200');
  assert.equal(await curl('-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--http1.1', `${base}/livez`), '1.1 200');
  assert.equal(await curl(`${base}/`), JSON.stringify(JSON.parse(FORBIDDEN_ROOT), null, 2));
});

test('publicInfoViewer unbound: anonymous health checks get 403', async (t) => {
  const { anon, admin } = await start(t, { publicInfoViewer: false });
  const answer = await h1Request(anon, '/readyz');
  assert.equal(answer.status, 403);
  assert.equal(answer.body, FORBIDDEN_ROOT.replace('path \\"/\\"', 'path \\"/readyz\\"'));
  assert.equal((await h1Request(admin, '/readyz')).status, 200);
});

test('anonymous off: 401 with the exact Status; client certificates and tokens authenticate', async (t) => {
  const { fake, anon, admin } = await start(t, { anonymous: 'off' });
  for (const path of ['/readyz', '/version', '/']) {
    const answer = await h1Request(anon, path);
    assert.deepEqual([answer.status, answer.body, answer.headers['content-type']], [401, UNAUTHORIZED, 'application/json'], path);
    assert.match(String(answer.headers['audit-id']), UUID);
    assert.equal(answer.headers['cache-control'], 'no-cache, private');
  }
  assert.equal((await h1Request(admin, '/readyz')).body, 'ok');
  const pki = fake.pki;
  assert.ok(pki);
  assert.equal((await h1Request(anon, '/readyz', { headers: { Authorization: `Bearer ${pki.adminToken}` } })).body, 'ok');
  const plain = await h1Request({ ...anon, cert: pki.probe }, '/readyz/etcd');
  assert.equal(JSON.parse(plain.body).message, 'forbidden: User "kube-local-lb" cannot get path "/readyz/etcd"', 'default roles do not cover health subpaths');
  assert.equal((await h1Request({ ...anon, cert: pki.probe }, '/readyz')).status, 200, 'system:discovery covers /readyz');
});

test('a bad credential is 401 in every mode, even with anonymous on', async (t) => {
  for (const anonymous of ['on', 'off', 'health-only'] as const) {
    const { anon } = await start(t, { anonymous });
    const badToken = await h1Request(anon, '/readyz', { headers: { Authorization: 'Bearer not-a-token' } });
    assert.deepEqual([badToken.status, badToken.body], [401, UNAUTHORIZED], anonymous);
    const strangerCa = makeClusterPki();
    const badCert = await h1Request({ ...anon, cert: strangerCa.admin }, '/readyz');
    assert.equal(badCert.status, 401, `${anonymous}: a certificate from another CA`);
    const notBearer = await h1Request(anon, '/livez', { headers: { Authorization: 'Basic Zm9vOmJhcg==' } });
    assert.equal(notBearer.status, anonymous === 'off' ? 401 : 200, 'a non-bearer Authorization header is not a credential');
  }
});

test('health-only anonymous (KEP-4633): exact /livez, /readyz, /healthz only; everything else 401', async (t) => {
  const { anon } = await start(t, { anonymous: 'health-only' });
  for (const path of ['/livez', '/readyz', '/healthz']) assert.equal((await h1Request(anon, path)).body, 'ok');
  for (const path of ['/readyz/etcd', '/version', '/readyz/', '/']) {
    const answer = await h1Request(anon, path);
    assert.deepEqual([answer.status, answer.body], [401, UNAUTHORIZED], path);
  }
});

test('HTTP/2: an anonymous or 401 answer ends the connection with GOAWAY; an authenticated one does not', async (t) => {
  const { fake, anon, admin } = await start(t);
  for (const [target, path, status] of [[anon, '/readyz', 200], [anon, '/readyz/etcd', 403], [{ ...anon, cert: makeClusterPki().admin }, '/readyz', 401]] as const) {
    const session = await h2Connect(target);
    t.after(() => session.destroy());
    const goaway = once(session, 'goaway');
    assert.equal((await h2Request(session, path)).status, status);
    const [code] = (await goaway) as [number];
    assert.equal(code, 0, 'GOAWAY NO_ERROR');
    await once(session, 'close');
  }
  const session = await h2Connect(admin);
  t.after(() => session.destroy());
  let goaways = 0;
  session.on('goaway', () => (goaways += 1));
  for (let i = 0; i < 3; i++) assert.equal((await h2Request(session, '/readyz')).body, 'ok');
  assert.equal(goaways, 0);
  assert.equal(fake.counters.h2Sessions, 4);
  // On HTTP/1.1 the mitigation does not apply: no Connection: close.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await h1Request(anon, '/readyz', { agent });
  assert.notEqual(first.headers.connection, 'close');
});

test('shutdown, phase 1: readyz fails through shutdown, livez and healthz stay 200, traffic is served', async (t) => {
  const { fake, anon, admin } = await start(t);
  fake.store.add({ name: 'p1' });
  const progress = fake.shutdown({ shutdownDelayMs: 60_000 });
  const readyz = await h1Request(anon, '/readyz');
  assert.deepEqual([readyz.status, readyz.body], [500, verbose('readyz', ['shutdown'])]);
  assert.ok(readyz.body.endsWith('[-]shutdown failed: reason withheld\nreadyz check failed\n'));
  assert.equal((await h1Request(anon, '/livez')).status, 200);
  assert.equal((await h1Request(anon, '/healthz')).status, 200);
  const pods = await h1Request(admin, '/api/v1/namespaces/default/pods');
  assert.equal(pods.status, 200);
  assert.equal(JSON.parse(pods.body).items[0].metadata.name, 'p1');
  assert.equal(fake.state.kind, 'shutdown-delay');
  let notAccepting = false;
  void progress.notAccepting.then(() => (notAccepting = true));
  await h1Request(anon, '/livez');
  assert.equal(notAccepting, false, 'the listener stays open during the delay');
});

test('shutdown, phase 2: listener closed (ECONNREFUSED), GOAWAY on HTTP/2, idle HTTP/1.1 keep-alive closed with FIN, hard close', async (t) => {
  const { fake, admin } = await start(t);
  const session = await h2Connect(admin);
  t.after(() => session.destroy());
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  let keptAlive: import('node:net').Socket | undefined;
  agent.once('free', (socket: import('node:net').Socket) => (keptAlive = socket));
  assert.equal((await h1Request(admin, '/version', { agent })).status, 200); // an HTTP/1.1 keep-alive connection
  assert.ok(keptAlive);
  let keptAliveError: unknown;
  keptAlive.on('error', (err) => (keptAliveError = err));
  const keptAliveClosed = once(keptAlive, 'close');
  assert.equal((await h2Request(session, '/version')).status, 200);
  const goaway = once(session, 'goaway');
  const progress = fake.shutdown({ shutdownDelayMs: 100, hardCloseAfterMs: 1500 });
  await progress.listenerClosed;
  await assert.rejects(tcpConnect(fake.port), { code: 'ECONNREFUSED' });
  const [code] = (await goaway) as [number];
  assert.equal(code, 0);
  await keptAliveClosed;
  assert.equal(keptAliveError, undefined, 'the idle keep-alive connection is closed with FIN, not reset');
  assert.equal(fake.state.kind, 'not-accepting');
  await progress.stopped;
  assert.equal(fake.openConnections, 0);
  assert.equal(fake.state.kind, 'stopped');
  await fake.revive({ startup: 'instant' });
  assert.equal((await h1Request(admin, '/readyz')).body, 'ok', 'revive serves again on the same port');
});

test('shutdown, phase 2 with closeIdleHttp1 false (a request racing the close on an old connection): 503 + Retry-After: 1, health exempt', async (t) => {
  const { fake, admin } = await start(t);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  assert.equal((await h1Request(admin, '/version', { agent })).status, 200);
  const progress = fake.shutdown({ shutdownDelayMs: 0, hardCloseAfterMs: 1500, closeIdleHttp1: false });
  await progress.listenerClosed;
  const late = await h1Request(admin, '/api/v1/pods', { agent });
  assert.equal(late.status, 503);
  assert.equal(late.body, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"apiserver is shutting down","reason":"ServiceUnavailable","code":503}\n\n');
  assert.equal(late.headers['retry-after'], '1');
  assert.equal(late.headers['content-type'], 'application/json');
  assert.equal(late.headers['cache-control'], 'no-cache, private');
  assert.match(String(late.headers['audit-id']), UUID);
  const livez = await h1Request(admin, '/livez', { agent });
  assert.equal(livez.status, 200, 'health paths are exempt from the 503');
  assert.equal((await h1Request(admin, '/readyz', { agent })).status, 500);
  await progress.stopped; // the hard close ends the keep-alive connection
  assert.equal(fake.openConnections, 0);
});

test('shutdown with send-retry-after: 429 + Retry-After: 5 + Connection: close until in-flight requests drain, health exempt', async (t) => {
  const { fake, anon, admin } = await start(t);
  fake.slow(400);
  const inFlight = h1Request(admin, '/api/v1/pods'); // holds the drain open for 400 ms
  await waitFor('the slow request to arrive', () => (fake.counters.requests > 0 ? true : undefined));
  fake.slow(0);
  const progress = fake.shutdown({ shutdownDelayMs: 0, sendRetryAfter: true });
  await progress.notAccepting;
  const rejected = await h1Request(admin, '/api/v1/pods');
  assert.equal(rejected.status, 429);
  assert.equal(rejected.body, 'The apiserver is shutting down, please try again later.\n');
  assert.equal(rejected.headers['retry-after'], '5');
  assert.equal(rejected.headers.connection, 'close');
  assert.equal(rejected.headers['content-type'], 'text/plain; charset=utf-8');
  assert.match(String(rejected.headers['audit-id']), UUID);
  assert.equal(rejected.headers['cache-control'], undefined, 'WithRetryAfter runs outside WithCacheControl');
  assert.equal((await h1Request(anon, '/readyz')).status, 500, '/readyz is exempt and reports shutdown');
  assert.equal((await h1Request(anon, '/livez')).status, 200);
  assert.equal((await h1Request(admin, '/version', { headers: { 'User-Agent': 'kube-apiserver/v1.32.4' } })).status, 200);
  const session = await h2Connect(admin);
  t.after(() => session.destroy());
  const goaway = once(session, 'goaway');
  assert.equal((await h2Request(session, '/version')).status, 429);
  await goaway;
  assert.equal((await inFlight).status, 200, 'the in-flight request completes');
  await progress.listenerClosed;
  await assert.rejects(tcpConnect(fake.port), { code: 'ECONNREFUSED' });
});

/** Reads a watch response line by line. */
function watchLines(target: Target, path: string): { lines: string[]; headers: Promise<Record<string, unknown>>; ended: Promise<void>; stop: () => void } {
  const lines: string[] = [];
  let buffer = '';
  let stop: () => void = () => undefined;
  let endedResolve: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (endedResolve = resolve));
  const headers = new Promise<Record<string, unknown>>((resolve, reject) => {
    const request = https.get({
      host: '127.0.0.1', port: target.port, path, ca: target.caPem, servername: 'kubernetes', agent: false,
      ...(target.cert ? { cert: target.cert.certPem, key: target.cert.keyPem } : {}),
    }, (response) => {
      resolve({ status: response.statusCode, ...response.headers });
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
          lines.push(buffer.slice(0, i));
          buffer = buffer.slice(i + 1);
        }
      });
      response.on('end', endedResolve);
      response.on('close', endedResolve);
    });
    request.on('error', reject);
    stop = () => request.destroy();
  });
  return { lines, headers, ended, stop: () => stop() };
}

test('watch: JSON lines flushed per event, ADDED/MODIFIED/DELETED, resume from a resourceVersion, 410 when too old', async (t) => {
  const { fake, admin } = await start(t);
  fake.store.add({ name: 'a' });
  const watch = watchLines(admin, '/api/v1/namespaces/default/pods?watch=1');
  t.after(watch.stop);
  const head = await watch.headers;
  assert.equal(head.status, 200);
  assert.equal(head['content-type'], 'application/json');
  assert.equal(head['transfer-encoding'], 'chunked');
  await waitFor('the initial ADDED', () => (watch.lines.length === 1 ? true : undefined));
  const added = JSON.parse(watch.lines[0] ?? '');
  assert.equal(added.type, 'ADDED');
  assert.equal(added.object.metadata.name, 'a');
  const since = fake.store.resourceVersion;
  fake.store.update('default', 'a', (pod) => (pod.metadata.labels = { v: '2' }));
  await waitFor('MODIFIED', () => (watch.lines.length === 2 ? true : undefined));
  fake.store.add({ name: 'other', namespace: 'kube-system' }); // another namespace: not seen
  fake.store.remove('default', 'a');
  await waitFor('DELETED', () => (watch.lines.length === 3 ? true : undefined));
  assert.deepEqual(watch.lines.map((line) => JSON.parse(line).type), ['ADDED', 'MODIFIED', 'DELETED']);
  assert.match(watch.lines[1] ?? '', /^\{"type":"MODIFIED","object":\{"kind":"Pod","apiVersion":"v1","metadata":\{"name":"a"/);

  const resumed = watchLines(admin, `/api/v1/pods?watch=true&resourceVersion=${since}`);
  t.after(resumed.stop);
  await waitFor('the history after the resourceVersion', () => (resumed.lines.length === 3 ? true : undefined));
  assert.deepEqual(resumed.lines.map((line) => JSON.parse(line).type), ['MODIFIED', 'ADDED', 'DELETED']);

  fake.store.compact();
  const stale = watchLines(admin, `/api/v1/pods?watch=1&resourceVersion=${since}`);
  assert.equal((await stale.headers).status, 200);
  await stale.ended;
  assert.deepEqual(stale.lines.map((line) => JSON.parse(line)), [{
    type: 'ERROR',
    object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${since} (${fake.store.oldestResourceVersion})`, reason: 'Expired', code: 410 },
  }]);
});

test('watch: bookmarks when allowed, a clean end at timeoutSeconds, and stalled watches send nothing', async (t) => {
  const { fake, admin } = await start(t, { bookmarkIntervalMs: 100 });
  const watch = watchLines(admin, '/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=1');
  await watch.headers;
  await waitFor('a bookmark', () => (watch.lines.length > 0 ? true : undefined));
  assert.equal(watch.lines[0], `{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"${fake.store.resourceVersion}","creationTimestamp":null},"spec":{"containers":null},"status":{}}}`);
  await watch.ended; // timeoutSeconds=1: the server ends the response itself

  const plain = watchLines(admin, '/api/v1/pods?watch=1');
  t.after(plain.stop);
  await plain.headers;
  fake.stallWatches();
  fake.store.add({ name: 'unseen-yet' });
  const stalled = watchLines(admin, '/api/v1/pods?watch=1');
  t.after(stalled.stop);
  assert.equal((await stalled.headers).status, 200, 'a stalled watch still sends its headers');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual([plain.lines.length, stalled.lines.length], [0, 0]);
  fake.stallWatches(false);
  await waitFor('the held events', () => (plain.lines.length === 1 && stalled.lines.length === 1 ? true : undefined));
  assert.equal(JSON.parse(plain.lines[0] ?? '').type, 'ADDED');
});

test('crash: open connections are reset, new connects refused; revive serves again on the same port', async (t) => {
  const { fake, admin } = await start(t);
  const session = await h2Connect(admin);
  t.after(() => session.destroy());
  assert.equal((await h2Request(session, '/readyz')).body, 'ok');
  const socket = session.socket;
  const closed = new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    let error: NodeJS.ErrnoException | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err));
    socket.on('close', () => resolve(error));
  });
  const port = fake.port;
  fake.crash();
  assert.equal(fake.state.kind, 'crashed');
  assert.equal((await closed)?.code, 'ECONNRESET');
  await assert.rejects(tcpConnect(port), { code: 'ECONNREFUSED' });
  await fake.revive({ startup: 'instant' });
  assert.equal(fake.port, port);
  assert.equal((await h1Request(admin, '/readyz')).body, 'ok');
});

test('blackhole: connects complete but no ServerHello comes, PINGs go unanswered, nothing is closed; revive resumes', async (t) => {
  const { fake, admin } = await start(t);
  const session = await h2Connect(admin);
  t.after(() => session.destroy());
  const ping = (): Promise<number> => new Promise((resolve, reject) => {
    session.ping((err, duration) => (err ? reject(err) : resolve(duration)));
  });
  assert.ok((await ping()) >= 0, 'a healthy server answers PING');
  await fake.blackhole();
  assert.equal(fake.state.kind, 'blackholed');

  const raw = await tcpConnect(fake.port);
  t.after(() => raw.destroy());
  let rawClosed = false;
  raw.on('close', () => (rawClosed = true));
  const secure = tls.connect({ socket: raw, ca: admin.caPem, servername: 'kubernetes' });
  secure.on('error', () => undefined);
  let handshake = false;
  secure.on('secureConnect', () => (handshake = true));
  let pingAnswered = false;
  const pending = ping().then(() => (pingAnswered = true), () => undefined);
  await new Promise((resolve) => setTimeout(resolve, 500)); // the claim is about silence for 500 ms
  assert.equal(raw.bytesRead, 0, 'no TLS byte from the server');
  assert.equal(handshake, false);
  assert.equal(pingAnswered, false, 'no PING ACK');
  assert.equal(rawClosed, false, 'no FIN, no RST');
  assert.equal(session.closed, false);

  await fake.revive();
  await pending;
  assert.equal(pingAnswered, true, 'the held PING ACK is sent on revive');
  await once(secure, 'secureConnect');
  assert.equal((await h2Request(session, '/readyz')).body, 'ok');
});

test('slow(ms) delays every response; counters show connections, handshakes and requests by path', async (t) => {
  const { fake, admin, anon } = await start(t);
  fake.slow(200);
  const started = Date.now();
  assert.equal((await h1Request(anon, '/livez')).body, 'ok');
  assert.ok(Date.now() - started >= 190, 'the answer came no sooner than the delay');
  fake.slow(0);
  fake.resetCounters();
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  for (let i = 0; i < 3; i++) await h1Request(admin, '/readyz', { agent });
  await h1Request(admin, '/livez');
  assert.equal(fake.counters.connectionsAccepted, 2);
  assert.equal(fake.counters.tlsHandshakes, 2, 'keep-alive checks cost one handshake');
  assert.equal(fake.counters.requests, 4);
  assert.deepEqual([...fake.counters.requestsByPath], [['/readyz', 3], ['/livez', 1]]);
});

test('kubectl works through a kubeconfig with certificate-authority-data and tls-server-name', async (t) => {
  if (!(await commandExists('kubectl', ['version', '--client']))) {
    t.skip('kubectl not installed');
    return;
  }
  const { fake } = await start(t);
  const pki = fake.pki;
  assert.ok(pki);
  fake.store.add({ name: 'web-1', labels: { app: 'web' } });
  fake.store.add({ name: 'dns', namespace: 'kube-system' });
  const dir = mkdtempSync(join(tmpdir(), 'fake-apiserver-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'kubeconfig');
  writeFileSync(config, kubeconfig({ server: fake.url, caPem: pki.ca.certPem, tlsServerName: 'kubernetes', user: pki.admin }));
  const kubectl = async (...args: string[]): Promise<string> =>
    (await execFileAsync('kubectl', ['--kubeconfig', config, ...args], { env: { ...process.env, HOME: dir } })).stdout;
  assert.equal(await kubectl('get', '--raw', '/readyz'), 'ok');
  const table = await kubectl('get', 'pods', '-A');
  assert.match(table, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
  assert.match(table, /\ndefault\s+web-1\s+1\/1\s+Running\s+0\s+\d+s\n/);
  assert.match(table, /\nkube-system\s+dns\s+1\/1\s+Running/);
  const names = await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}');
  assert.equal(names, 'web-1');
  assert.match(await kubectl('version', '-o', 'json'), /"gitVersion": "v1.32.4"/);
  const noName = await execFileAsync('kubectl', ['--kubeconfig', config, '--tls-server-name', 'wrong.example', 'get', '--raw', '/readyz'],
    { env: { ...process.env, HOME: dir } }).then(() => '', (err: { stderr: string }) => err.stderr);
  assert.match(noName, /certificate is valid for kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster.local, not wrong.example/);
});

test('@kubernetes/client-node lists and watches pods (HTTP/1.1, tls-server-name)', async (t) => {
  const { fake } = await start(t);
  const pki = fake.pki;
  assert.ok(pki);
  fake.store.add({ name: 'p1' });
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfig({ server: fake.url, caPem: pki.ca.certPem, tlsServerName: 'kubernetes', user: { token: pki.adminToken } }));
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.listNamespacedPod({ namespace: 'default' });
  assert.deepEqual(list.items.map((pod) => pod.metadata?.name), ['p1']);
  assert.equal(list.metadata?.resourceVersion, String(fake.store.resourceVersion));
  const version = await kc.makeApiClient(k8s.VersionApi).getCode();
  assert.equal(version.gitVersion, 'v1.32.4');

  const events: string[] = [];
  const watcher = new k8s.Watch(kc);
  const controller = await watcher.watch('/api/v1/namespaces/default/pods', { resourceVersion: list.metadata?.resourceVersion },
    (phase: string, pod: { metadata?: { name?: string } }) => events.push(`${phase} ${pod.metadata?.name ?? ''}`), () => undefined);
  t.after(() => controller.abort());
  fake.store.add({ name: 'p2' });
  fake.store.remove('default', 'p1');
  await waitFor('two watch events', () => (events.length === 2 ? true : undefined));
  assert.deepEqual(events, ['ADDED p2', 'DELETED p1']);
});

test('cli: one JSON line when listening, line commands on stdin, SIGKILL leaves a refused port', async (t) => {
  const { spawn } = await import('node:child_process');
  const { createInterface } = await import('node:readline');
  const cli = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, 'fake-apiserver', 'cli.js');
  const child = spawn(process.execPath, [cli, '--name', 'proc-1', '--token', 'tok=alice:system:masters', '--startup', 'instant',
    '--etcd-healthcheck-timeout-ms', '100'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const stdout = createInterface({ input: child.stdout });
  const stderr = createInterface({ input: child.stderr });
  const [first] = (await once(stdout, 'line')) as [string];
  const info = JSON.parse(first) as { port: number; name: string; pid: number; pki: { caPem: string; adminToken: string } };
  assert.equal(info.name, 'proc-1');
  assert.equal(info.pid, child.pid);
  const target = { port: info.port, caPem: info.pki.caPem };
  const answer = await h1Request(target, '/readyz', { headers: { Authorization: 'Bearer tok' } });
  assert.deepEqual([answer.body, answer.headers['x-fake-apiserver']], ['ok', 'proc-1']);
  const acks: string[] = [];
  stderr.on('line', (line: string) => acks.push(line));
  child.stdin.write('etcd down\n');
  await waitFor('the ack', () => (acks.includes('ok etcd down') ? true : undefined));
  // Within timeout/2 of the last probe (sent by the /readyz above) the limiter answers its result: poll.
  await waitFor('/livez 500', async () => ((await h1Request(target, '/livez')).status === 500 ? true : undefined));
  child.stdin.write('nonsense\n');
  await waitFor('the error line', () => (acks.includes('error nonsense: unknown command "nonsense"') ? true : undefined));
  child.kill('SIGKILL');
  await once(child, 'exit');
  await assert.rejects(tcpConnect(info.port), { code: 'ECONNREFUSED' });
});

test('close() ends held connections too, and a second close() is harmless; IPv6 loopback works', async (t) => {
  const fake = await startFakeApiserver({ name: 'v6', host: '::1', startup: 'instant' });
  t.after(() => fake.close());
  const pki = fake.pki;
  assert.ok(pki);
  assert.equal(fake.address, `[::1]:${fake.port}`);
  const target = { host: '::1', port: fake.port, caPem: pki.ca.certPem };
  assert.equal((await h1Request(target, '/readyz')).body, 'ok');
  await fake.blackhole();
  const raw = await tcpConnect(fake.port, '::1');
  const closed = once(raw, 'close');
  await fake.close();
  await closed;
  await fake.close();
  await assert.rejects(tcpConnect(fake.port, '::1'), { code: 'ECONNREFUSED' });
});

test('cli: PEM files and --anonymous off are honoured; no pki is printed when certificates are given', async (t) => {
  const { spawn } = await import('node:child_process');
  const { createInterface } = await import('node:readline');
  const pki = makeClusterPki({ extraSans: { ipAddresses: ['127.0.0.1'] } });
  const dir = mkdtempSync(join(tmpdir(), 'fake-apiserver-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [file, pem] of [['tls.crt', pki.serving.certPem], ['tls.key', pki.serving.keyPem], ['ca.crt', pki.ca.certPem]] as const) writeFileSync(join(dir, file), pem);
  const cli = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, 'fake-apiserver', 'cli.js');
  const child = spawn(process.execPath, [cli, '--name', 'files', '--cert', join(dir, 'tls.crt'), '--key', join(dir, 'tls.key'),
    '--client-ca', join(dir, 'ca.crt'), '--anonymous', 'off', '--startup', 'instant'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const [first] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  const info = JSON.parse(first) as { port: number; pki?: unknown };
  assert.equal(info.pki, undefined);
  const target = { port: info.port, caPem: pki.ca.certPem, servername: '127.0.0.1' };
  assert.equal((await h1Request(target, '/readyz')).status, 401);
  assert.equal((await h1Request({ ...target, cert: pki.admin }, '/readyz')).body, 'ok');
  child.stdin.end(); // end of stdin closes the server and the process exits by itself
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
});
