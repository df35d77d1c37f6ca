/**
 * The imitation's behaviours where a real kube-apiserver is less kind than a simple stand-in
 * would be: etcd checks that take their timeout, quorum reads that wait for their deadline, a
 * graceful shutdown as Go's Server.Shutdown, the start-up phase (403, then /readyz 500), RBAC
 * on the `kubernetes` endpoints, error bodies for text/plain clients, endpoint validation and
 * the lease endpoint reconciler.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import https from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import {
  ETCD_ERROR, KubernetesEndpoints, LeaseReconciler, REAL_STARTUP, checkNames, h1Request, h2Connect, h2Request, makeClusterPki, parseRbac,
  startFakeApiserver, tcpConnect, waitFor, type FakeApiserver, type FakeApiserverOptions, type Target,
} from './fake-apiserver/index.js';
import { docsDiscoveryRbac, docsPodsRbac } from './helpers/discovery-rbac.js';

const SLICES = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';

async function start(t: TestContext, options: Partial<FakeApiserverOptions> = {}): Promise<{ fake: FakeApiserver; anon: Target; admin: Target }> {
  const fake = await startFakeApiserver({ name: 'apiserver-1', startup: 'instant', ...options });
  t.after(() => fake.close());
  assert.ok(fake.pki);
  return { fake, anon: { port: fake.port, caPem: fake.pki.ca.certPem }, admin: { port: fake.port, caPem: fake.pki.ca.certPem, cert: fake.pki.admin } };
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

const bearer = (token: string): { headers: Record<string, string> } => ({ headers: { authorization: `Bearer ${token}` } });

function failingBody(root: 'livez' | 'readyz' | 'healthz', failing: ReadonlySet<string>): string {
  const lines = checkNames(root).map((name) => (failing.has(name) ? `[-]${name} failed: reason withheld\n` : `[+]${name} ok\n`));
  return `${lines.join('')}${root} check failed\n`;
}

test('etcd down, default timeouts: /livez 500 after ~2 s, /readyz after ~4 s (two checks, one after another); ping at once', async (t) => {
  const { fake, anon, admin } = await start(t);
  fake.setEtcd(false);
  const livez = await timed(() => h1Request(anon, '/livez'));
  assert.equal(livez.value.status, 500);
  assert.ok(livez.ms >= 1900 && livez.ms < 3000, `/livez took ${Math.round(livez.ms)} ms, want about 2000`);
  const readyz = await timed(() => h1Request(anon, '/readyz'));
  assert.equal(readyz.value.status, 500);
  assert.equal(readyz.value.body, failingBody('readyz', new Set(['etcd', 'etcd-readiness'])));
  assert.ok(readyz.ms >= 3900 && readyz.ms < 5500, `/readyz took ${Math.round(readyz.ms)} ms, want about 4000`);
  for (const path of ['/livez/ping', '/readyz/ping']) {
    const ping = await timed(() => h1Request(admin, path));
    assert.deepEqual([ping.value.status, ping.value.body], [200, 'ok'], path);
    assert.ok(ping.ms < 500, `${path} took ${Math.round(ping.ms)} ms`);
  }
  const sub = await timed(() => h1Request(admin, '/readyz/etcd-readiness'));
  assert.deepEqual([sub.value.status, sub.value.body], [500, `internal server error: ${ETCD_ERROR}\n`]);
  fake.setEtcd(true);
  const back = await timed(() => h1Request(anon, '/readyz'));
  assert.equal(back.value.body, 'ok');
  assert.ok(back.ms < 500, 'etcd answering costs nothing');
});

test('etcd checks are rate-limited to one probe per timeout/2: a call in between gets the last probe\'s result at once', async (t) => {
  const { fake, anon } = await start(t, { etcdHealthcheckTimeoutMs: 600, etcdReadycheckTimeoutMs: 600 });
  fake.setEtcd(false);
  assert.equal((await h1Request(anon, '/livez')).status, 500); // the probe sent now fails after 600 ms
  const [first, second] = await Promise.all([timed(() => h1Request(anon, '/livez')), timed(() => h1Request(anon, '/livez'))]);
  assert.ok(first && second);
  assert.deepEqual([first.value.status, second.value.status], [500, 500]);
  const [slow, fast] = first.ms > second.ms ? [first, second] : [second, first];
  assert.ok(slow.ms >= 550, `one call probes etcd (${Math.round(slow.ms)} ms)`);
  assert.ok(fast.ms < 300, `the other is refused by the limiter and answers the last result at once (${Math.round(fast.ms)} ms)`);
});

test('etcd down: quorum reads and writes wait for their deadline and get 504; watches and resourceVersion=0 reads are served from the cache', async (t) => {
  const { fake, admin } = await start(t, { requestTimeoutMs: 600 });
  fake.store.add({ name: 'p1' });
  fake.setEtcd(false);
  const TIMEOUT = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: request did not complete within requested timeout - context deadline exceeded","reason":"Timeout","details":{},"code":504}\n';
  for (const path of ['/api/v1/namespaces/default/pods', '/api/v1/namespaces/default/pods/p1']) {
    const quorum = await timed(() => h1Request(admin, path));
    assert.deepEqual([quorum.value.status, quorum.value.body], [504, TIMEOUT], path);
    assert.ok(quorum.ms >= 550 && quorum.ms < 1500, `${path}: ${Math.round(quorum.ms)} ms, want the 600 ms request timeout`);
  }
  const asked = await timed(() => h1Request(admin, '/api/v1/namespaces/default/pods?timeout=200ms'));
  assert.equal(asked.value.status, 504);
  assert.ok(asked.ms < 500, 'a shorter ?timeout= is the deadline');
  const write = await timed(() => h1Request(admin, '/api/v1/namespaces/default/pods', { method: 'POST' }));
  assert.equal(write.value.status, 504, 'a write waits for etcd too');
  for (const path of ['/api/v1/namespaces/default/pods?resourceVersion=0', '/api/v1/namespaces/default/pods/p1?resourceVersion=0',
    `/api/v1/namespaces/default/pods?resourceVersion=${fake.store.resourceVersion}`, '/version', '/api']) {
    const cached = await timed(() => h1Request(admin, path));
    assert.equal(cached.value.status, 200, path);
    assert.ok(cached.ms < 300, `${path} comes from the cache`);
  }
  const lines: string[] = [];
  const watch = https.get({ host: '127.0.0.1', port: admin.port, path: '/api/v1/namespaces/default/pods?watch=1', ca: admin.caPem, servername: 'kubernetes',
    cert: fake.pki?.admin.certPem, key: fake.pki?.admin.keyPem, agent: false }, (res) => res.setEncoding('utf8').on('data', (c: string) => lines.push(...c.split('\n').filter(Boolean))));
  t.after(() => watch.destroy());
  await waitFor('the ADDED from the cache', () => (lines.length === 1 ? true : undefined));
  fake.store.add({ name: 'p2' });
  await waitFor('a watch event while etcd is down', () => (lines.length === 2 ? true : undefined));
  // etcd back while a quorum read waits: it is answered.
  const pending = timed(() => h1Request(admin, '/api/v1/namespaces/default/pods'));
  setTimeout(() => fake.setEtcd(true), 150);
  const answered = await pending;
  assert.equal(answered.value.status, 200);
  assert.ok(answered.ms < 550);
});

test('shutdown: a busy HTTP/1.1 connection is closed after its response (Connection: close), a watch streams on until the hard close', async (t) => {
  const { fake, admin } = await start(t);
  // A watch on HTTP/1.1 and a slow request on another connection, both open when the listener closes.
  const lines: string[] = [];
  let watchEnded = false;
  const watch = https.get({ host: '127.0.0.1', port: admin.port, path: '/api/v1/pods?watch=1', ca: admin.caPem, servername: 'kubernetes',
    cert: fake.pki?.admin.certPem, key: fake.pki?.admin.keyPem, agent: false }, (res) => {
    res.setEncoding('utf8').on('data', (c: string) => lines.push(...c.split('\n').filter(Boolean)));
    res.on('close', () => (watchEnded = true));
  });
  watch.on('error', () => undefined);
  t.after(() => watch.destroy());
  await waitFor('the watch to be open', () => (fake.openConnections === 1 ? true : undefined));
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  fake.slow(400);
  const busy = h1Request(admin, '/version', { agent });
  await waitFor('the slow request to arrive', () => ((fake.counters.requestsByPath.get('/version') ?? 0) > 0 ? true : undefined));
  let busySocket: Socket | undefined;
  agent.once('free', (socket: Socket) => (busySocket = socket));
  const progress = fake.shutdown({ shutdownDelayMs: 0, hardCloseAfterMs: 1200 });
  await progress.listenerClosed;
  fake.slow(0);
  const answer = await busy;
  assert.equal(answer.status, 200, 'the in-flight request is answered');
  assert.equal(answer.headers.connection, 'close');
  assert.equal(busySocket, undefined, 'the connection is not handed back for reuse');
  fake.store.add({ name: 'after-close' });
  await waitFor('the watch event after the listener closed', () => (lines.some((l) => l.includes('after-close')) ? true : undefined));
  assert.equal(watchEnded, false, 'the watch still streams');
  await progress.stopped;
  assert.equal(watchEnded, true, 'the hard close ended it');
});

test('start-up (real): 403 to everyone outside system:masters, /readyz included; then /readyz 500 with informer-sync and post-start hooks; then ready', async (t) => {
  const pki = makeClusterPki();
  const fake = await startFakeApiserver({ name: 'starting', tls: pki.tls, tokens: pki.tokens, startup: 'real', startupTiming: { forbiddenMs: 2500, notReadyMs: 500 } });
  t.after(() => fake.close());
  const base = { port: fake.port, caPem: pki.ca.certPem };
  assert.deepEqual(fake.state, { kind: 'starting', phase: 'rbac' });
  const FORBIDDEN = (user: string, path: string): string =>
    `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \\"${user}\\" cannot get path \\"${path}\\"","reason":"Forbidden","details":{},"code":403}\n`;
  for (const [who, target, options, user] of [
    ['anonymous', base, {}, 'system:anonymous'],
    ['token', base, bearer(pki.userToken), 'plain-token-user'],
    ['client certificate', { ...base, cert: pki.probe }, {}, 'kube-local-lb'],
    ['node certificate', { ...base, cert: pki.node }, {}, 'system:node:node-1'],
  ] as const) {
    for (const path of ['/readyz', '/livez', '/version']) {
      const answer = await h1Request(target, path, options);
      assert.deepEqual([answer.status, answer.body], [403, FORBIDDEN(user, path)], `${who} ${path}`);
    }
  }
  assert.equal((await h1Request(base, '/readyz', bearer('not-a-token'))).status, 401, 'authentication works from the start');
  const starting = new Set(['informer-sync', 'poststarthook/rbac/bootstrap-roles', 'poststarthook/crd-informer-synced', 'autoregister-completion']);
  const masters = await h1Request({ ...base, cert: pki.admin }, '/readyz');
  assert.equal(masters.status, 500, 'system:masters passes authorization and sees the checks fail');
  for (const name of starting) assert.ok(masters.body.includes(`[-]${name} failed: reason withheld\n`), name);
  assert.ok(masters.body.includes('[+]etcd ok\n') && masters.body.endsWith('readyz check failed\n'));
  await waitFor('the hooks phase', () => (fake.state.kind === 'starting' && fake.state.phase === 'hooks' ? true : undefined), 4000);
  const anonymous = await h1Request(base, '/readyz');
  assert.equal(anonymous.status, 500, 'RBAC synced: the anonymous check now sees the 500');
  assert.ok(anonymous.body.includes('[-]informer-sync failed: reason withheld\n'));
  assert.equal((await h1Request(base, '/livez')).status, 500, 'post-start hooks are livez checks too');
  assert.equal((await h1Request(base, '/version')).status, 200);
  await fake.ready;
  assert.equal((await h1Request(base, '/readyz')).body, 'ok');
});

test('start-up: the default timing is REAL_STARTUP; a restart after a crash or a stop runs it again, a revive after SIGSTOP does not', async (t) => {
  assert.deepEqual(REAL_STARTUP, { forbiddenMs: 1_000, notReadyMs: 4_000 });
  const byDefault = await startFakeApiserver({ name: 'default' });
  t.after(() => byDefault.close());
  assert.ok(byDefault.pki);
  assert.equal((await h1Request({ port: byDefault.port, caPem: byDefault.pki.ca.certPem }, '/readyz')).status, 403, 'real start-up unless told otherwise');
  const started = Date.now();
  await byDefault.ready;
  assert.ok(Date.now() - started >= 4_500, 'ready about 5 s after listening');

  const { fake, anon } = await start(t, { startupTiming: { forbiddenMs: 200, notReadyMs: 200 } });
  assert.equal((await h1Request(anon, '/readyz')).body, 'ok', 'instant');
  fake.crash();
  await fake.revive();
  assert.equal((await h1Request(anon, '/readyz')).status, 403, 'a restarted apiserver starts again');
  await fake.ready;
  assert.equal((await h1Request(anon, '/readyz')).body, 'ok');
  await fake.shutdown({ shutdownDelayMs: 0 }).stopped;
  await fake.revive();
  assert.equal(fake.state.kind, 'starting');
  await fake.ready;
  await fake.blackhole();
  await fake.revive();
  assert.equal(fake.state.kind, 'serving', 'SIGCONT: the same process goes on');
  fake.crash();
  await fake.revive({ startup: 'instant' });
  assert.equal((await h1Request(anon, '/readyz')).body, 'ok', 'a test may ask for an instant restart');
});

test('RBAC: the kubernetes endpoints need a binding; nodes and unbound users get 403; the docs\' Role and RoleBinding allow kube-local-lb', async (t) => {
  const { fake, admin } = await start(t, { rbac: docsDiscoveryRbac() });
  const pki = fake.pki;
  assert.ok(pki);
  fake.endpoints.set(['10.0.0.11'], 6443);
  const base = { port: fake.port, caPem: pki.ca.certPem };
  const message = (user: string, verb: string, resource: string, group: string): string =>
    `${group === '' ? resource : `${resource}.${group}`} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "default"`;
  for (const [who, target, options, user] of [
    ['plain token', base, bearer(pki.userToken), 'plain-token-user'],
    ['node certificate', { ...base, cert: pki.node }, {}, 'system:node:node-1'],
  ] as const) {
    const slices = await h1Request(target, SLICES, options);
    assert.equal(slices.status, 403, who);
    assert.equal(JSON.parse(slices.body).message, message(user, 'list', 'endpointslices', 'discovery.k8s.io'));
    const watch = await h1Request(target, '/api/v1/namespaces/default/endpoints?watch=1', options);
    assert.equal(JSON.parse(watch.body).message, message(user, 'watch', 'endpoints', ''));
    assert.equal((await h1Request(target, '/api/v1', options)).status, 200, `${who}: discovery of APIs stays allowed`);
    assert.equal((await h1Request(target, '/readyz', options)).status, 200, `${who}: health stays allowed`);
  }
  for (const target of [{ ...base, cert: pki.probe }, base]) {
    const options: { headers?: Record<string, string> } = 'cert' in target ? {} : bearer(pki.probeToken);
    assert.equal((await h1Request(target, SLICES, options)).status, 200, 'kube-local-lb may list endpointslices');
    assert.equal((await h1Request(target, '/api/v1/namespaces/default/endpoints', options)).status, 200);
    assert.equal((await h1Request(target, '/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices', options)).status, 403, 'only in default');
    assert.equal((await h1Request(target, '/apis/discovery.k8s.io/v1/endpointslices', options)).status, 403, 'not cluster-wide');
    assert.equal((await h1Request(target, `${SLICES}/kubernetes`, options)).status, 403, 'list and watch, not get');
  }
  assert.equal((await h1Request(admin, `${SLICES}/kubernetes`)).status, 200, 'system:masters may do anything');
});

test('RBAC: a group binding, a binding to a missing role (403 ending in "RBAC: role ... not found"), and a ClusterRoleBinding', async (t) => {
  const rbac = parseRbac(`
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: not-there}
subjects: [{kind: User, name: plain-token-user}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: slice-reader}
rules: [{apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: nodes-read-slices}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: slice-reader}
subjects: [{kind: Group, name: system:nodes}]
`);
  const { fake } = await start(t, { rbac });
  const pki = fake.pki;
  assert.ok(pki);
  const base = { port: fake.port, caPem: pki.ca.certPem };
  const missing = await h1Request(base, SLICES, bearer(pki.userToken));
  assert.equal(JSON.parse(missing.body).message,
    'endpointslices.discovery.k8s.io is forbidden: User "plain-token-user" cannot list resource "endpointslices" in API group "discovery.k8s.io" in the namespace "default": RBAC: role.rbac.authorization.k8s.io "not-there" not found');
  assert.equal((await h1Request({ ...base, cert: pki.node }, SLICES)).status, 200, 'the group system:nodes is bound cluster-wide');
  assert.equal((await h1Request({ ...base, cert: pki.node }, '/api/v1/namespaces/default/endpoints')).status, 403, 'endpoints are not in that role');
});

test('401 and 403 for a client that accepts only text/plain: indented JSON without kind and apiVersion, no trailing newline (WriteRawJSON)', async (t) => {
  const { anon } = await start(t);
  const forbidden = await h1Request(anon, '/readyz/etcd', { headers: { accept: 'text/plain' } });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.headers['content-type'], 'application/json');
  assert.equal(forbidden.body, '{\n  "metadata": {},\n  "status": "Failure",\n  "message": "forbidden: User \\"system:anonymous\\" cannot get path \\"/readyz/etcd\\"",\n  "reason": "Forbidden",\n  "details": {},\n  "code": 403\n}');
  const unauthorized = await h1Request(anon, '/readyz', { headers: { accept: 'text/plain', authorization: 'Bearer wrong' } });
  assert.deepEqual([unauthorized.status, unauthorized.body], [401, '{\n  "metadata": {},\n  "status": "Failure",\n  "message": "Unauthorized",\n  "reason": "Unauthorized",\n  "code": 401\n}']);
  const json = await h1Request(anon, '/readyz/etcd', { headers: { accept: 'application/json, */*' } });
  assert.equal(JSON.parse(json.body).kind, 'Status', 'a JSON client gets the encoded Status');
});

test('endpoint validation: loopback and link-local addresses are refused unless the endpoints are made to accept them', () => {
  const endpoints = new KubernetesEndpoints();
  for (const ip of ['127.0.0.1', '::1', '169.254.1.1', 'fe80::1']) assert.throws(() => endpoints.set([ip], 6443), /Endpoints "kubernetes" is invalid: .*may not be in the (loopback|link-local) range/, ip);
  assert.equal(endpoints.get('endpointslices'), undefined, 'nothing was written');
  endpoints.set(['10.0.0.1'], 6443);
  const lenient = new KubernetesEndpoints(100, 5000, { acceptLoopback: true });
  lenient.set(['127.0.0.1'], 6443);
  assert.deepEqual(lenient.addresses, ['127.0.0.1']);
});

test('lease reconciler: a ready apiserver adds itself, a crashed one leaves after its lease expires, a stopping one at once', async (t) => {
  const endpoints = new KubernetesEndpoints(100, 5000, { acceptLoopback: true });
  const reconciler = new LeaseReconciler(endpoints, 6443, { intervalMs: 100, ttlMs: 300 });
  t.after(() => reconciler.close());
  const prefix = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const startOne = async (n: number): Promise<FakeApiserver> => {
    const fake = await startFakeApiserver({ name: `a${n}`, host: `${prefix}.${n}`, endpoints, reconciler, startup: 'real', startupTiming: { forbiddenMs: 100, notReadyMs: 100 } });
    t.after(() => fake.close());
    return fake;
  };
  const [a1, a2, a3] = [await startOne(1), await startOne(2), await startOne(3)];
  assert.equal(endpoints.addresses.length, 0, 'nobody is listed before it is ready');
  await Promise.all([a1.ready, a2.ready, a3.ready]);
  assert.deepEqual(endpoints.addresses, [a1.host, a2.host, a3.host].sort());
  const crashedAt = Date.now();
  a2.crash();
  await waitFor('the crashed apiserver gone from the slice', () => (!endpoints.addresses.includes(a2.host) ? true : undefined), 2000);
  // Renewed up to one interval before the crash: gone between ttl - interval and ttl + interval after it.
  assert.ok(Date.now() - crashedAt >= 180, 'not before its lease expired');
  const progress = a3.shutdown({ shutdownDelayMs: 500 });
  assert.deepEqual(endpoints.addresses, [a1.host], 'the stopping one removed itself at SIGTERM, before its listener closes');
  await progress.stopped;
  await a2.revive();
  assert.ok(!endpoints.addresses.includes(a2.host), 'a restarted apiserver is not listed while it starts');
  await a2.ready;
  assert.deepEqual(endpoints.addresses, [a1.host, a2.host].sort());
});

test('cli: new flags with bad values are one line and exit 2; --startup, --rbac and revive instant work', async (t) => {
  const cli = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, 'fake-apiserver', 'cli.js');
  for (const [args, line] of [
    [['--startup', 'later'], 'fake-apiserver: --startup: "later" is not one of real, instant\n'],
    [['--startup-forbidden-ms=-1'], 'fake-apiserver: --startup-forbidden-ms: "-1" is not a non-negative integer\n'],
    [['--startup-not-ready-ms', 'x'], 'fake-apiserver: --startup-not-ready-ms: "x" is not a non-negative integer\n'],
    [['--etcd-healthcheck-timeout-ms', '2s'], 'fake-apiserver: --etcd-healthcheck-timeout-ms: "2s" is not a non-negative integer\n'],
    [['--etcd-readycheck-timeout-ms', ''], 'fake-apiserver: --etcd-readycheck-timeout-ms: "" is not a non-negative integer\n'],
    [['--request-timeout-ms', '1.5'], 'fake-apiserver: --request-timeout-ms: "1.5" is not a non-negative integer\n'],
    [['--shutdown-timeout-ms', 'never'], 'fake-apiserver: --shutdown-timeout-ms: "never" is not a non-negative integer\n'],
    [['--rbac', '/nonexistent/rbac.yaml'], 'fake-apiserver: --rbac: "/nonexistent/rbac.yaml" is not an existing file\n'],
  ] as const) {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const [code] = (await once(child, 'exit')) as [number];
    assert.deepEqual([code, stderr], [2, line], args.join(' '));
  }
  const dir = mkdtempSync(join(tmpdir(), 'fake-apiserver-rbac-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const manifest = join(dir, 'rbac.yaml');
  writeFileSync(manifest, docsDiscoveryRbac().map((o) => JSON.stringify(o)).join('\n---\n'));
  const child = spawn(process.execPath, [cli, '--name', 'cli-real', '--startup', 'instant', '--startup-forbidden-ms', '300', '--startup-not-ready-ms', '300',
    '--rbac', manifest], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const [first] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  const info = JSON.parse(first) as { port: number; pki: { caPem: string; node: { certPem: string; keyPem: string } } };
  const target = { port: info.port, caPem: info.pki.caPem };
  assert.equal((await h1Request(target, '/readyz')).body, 'ok', '--startup instant');
  assert.equal((await h1Request({ ...target, cert: info.pki.node }, SLICES)).status, 403, '--rbac binds kube-local-lb, not nodes');
  const acks: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l: string) => acks.push(l));
  child.stdin.write('crash\nrevive\n');
  await waitFor('the revive ack', () => (acks.includes('ok revive') ? true : undefined));
  assert.equal((await h1Request(target, '/readyz')).status, 403, 'revive is a real restart');
  await waitFor('ready again', async () => ((await h1Request(target, '/readyz')).body === 'ok' ? true : undefined), 3000);
  child.stdin.write('crash\nrevive instant\n');
  await waitFor('the instant revive ack', () => (acks.includes('ok revive instant') ? true : undefined));
  assert.equal((await h1Request(target, '/readyz')).body, 'ok');
  child.stdin.write('revive later\n');
  await waitFor('the error line', () => (acks.includes('error revive later: revive takes nothing or "instant"') ? true : undefined));
});

test('HTTP/2 during shutdown: GOAWAY, a stream open before it is answered, the session ends after it', async (t) => {
  const { fake, admin } = await start(t);
  const session = await h2Connect(admin);
  t.after(() => session.destroy());
  fake.slow(300);
  const inFlight = h2Request(session, '/version');
  await waitFor('the request to arrive', () => ((fake.counters.requestsByPath.get('/version') ?? 0) > 0 ? true : undefined));
  const goaway = once(session, 'goaway');
  const progress = fake.shutdown({ shutdownDelayMs: 0, hardCloseAfterMs: 5000 });
  await goaway;
  fake.slow(0);
  assert.equal((await inFlight).status, 200);
  await once(session, 'close');
  await progress.stopped;
  await assert.rejects(tcpConnect(fake.port), { code: 'ECONNREFUSED' });
});

test('Service default/kubernetes: spec.clusterIP as set; nodes may read it (the Node authorizer), kube-local-lb with the binding of docs/pods.md, others not', async (t) => {
  const SERVICE = '/api/v1/namespaces/default/services/kubernetes';
  const { fake, admin } = await start(t, { clusterIp: '10.254.0.1', rbac: docsPodsRbac() });
  const pki = fake.pki;
  assert.ok(pki);
  const base = { port: fake.port, caPem: pki.ca.certPem };
  const served = await h1Request(admin, SERVICE);
  assert.equal(served.status, 200);
  const service = JSON.parse(served.body) as { kind: string; spec: { clusterIP: string; ports: { name: string; port: number }[] } };
  assert.equal(service.kind, 'Service');
  assert.equal(service.spec.clusterIP, '10.254.0.1');
  assert.deepEqual(service.spec.ports.map((p) => [p.name, p.port]), [['https', 443]]);
  assert.equal((await h1Request({ ...base, cert: pki.node }, SERVICE)).status, 200, 'a node reads Services');
  assert.equal((await h1Request({ ...base, cert: pki.probe }, SERVICE)).status, 200, 'the binding docs/pods.md gives allows kube-local-lb');
  assert.equal((await h1Request({ ...base, cert: pki.probe }, '/api/v1/namespaces/default/services/other')).status, 403, 'that Service only');
  const denied = await h1Request(base, SERVICE, bearer(pki.userToken));
  assert.equal(denied.status, 403);
  assert.equal(JSON.parse(denied.body).message,
    'services "kubernetes" is forbidden: User "plain-token-user" cannot get resource "services" in API group "" in the namespace "default"');
  assert.equal((await h1Request(admin, '/api/v1/namespaces/default/services/other')).status, 404, 'only the kubernetes Service exists');
  assert.equal((await h1Request(admin, '/api/v1/namespaces/kube-system/services/kubernetes')).status, 404);
});
