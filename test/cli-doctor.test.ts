import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { MAIN, cleanEnv, runMain } from './cli-spawn.js';
import { makeClusterPki } from './fake-apiserver/index.js';
import { kubeconfig } from './fake-apiserver/kubeconfig.js';
import { childLines, exitOf } from './helpers/child-lines.js';
import { fakeCluster, type FakeCluster } from './helpers/cluster.js';

interface RunningProxy {
  proxy: string;
  admin: string;
  /** Resolves once the proxy logged a record with these fields. */
  logged(fields: Record<string, string>): Promise<void>;
}

/** `kube-local-lb run` as operators start it, in front of `cluster`; free ports, fast checks. */
async function runProxy(t: TestContext, cluster: FakeCluster, extra: string[] = []): Promise<RunningProxy> {
  const ca = cluster.file('ca.crt', cluster.pki.ca.certPem);
  const child = spawn(process.execPath, [MAIN, 'run', ...cluster.apiservers.flatMap((a) => ['--backend', a.address]),
    '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--health-ca-file', ca, '--health-interval', '200ms', ...extra],
  { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(async () => {
    child.kill('SIGTERM');
    await exitOf(child);
  });
  const out = childLines(child.stdout);
  const started = JSON.parse((await out.waitFor(/"event":"started"/)).input) as { listen: string[]; admin: string };
  const logged = async (fields: Record<string, string>): Promise<void> => {
    const pattern = Object.entries(fields).map(([k, v]) => `(?=.*"${k}":"${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}")`).join('');
    await out.waitFor(new RegExp(`^${pattern}`));
  };
  return { proxy: started.listen[0] ?? '', admin: `http://${started.admin}`, logged };
}

/** A kubeconfig for the admin user of `cluster`, pointed at the proxy. */
function adminKubeconfig(cluster: FakeCluster, proxy: string, tlsServerName: string | undefined, name = 'admin.conf'): string {
  return cluster.file(name, kubeconfig({ server: `https://${proxy}`, caPem: cluster.pki.ca.certPem,
    user: { certPem: cluster.pki.admin.certPem, keyPem: cluster.pki.admin.keyPem }, ...(tlsServerName ? { tlsServerName } : {}) }));
}

async function upAll(p: RunningProxy, cluster: FakeCluster): Promise<void> {
  for (const a of cluster.apiservers) await p.logged({ event: 'backend_state', backend: a.address, to: 'up' });
}

test('healthy: a kubeconfig with tls-server-name verifies and is accepted, every backend up: exit 0', async (t) => {
  const cluster = await fakeCluster(2, { startup: 'instant' });
  t.after(() => cluster.close());
  const p = await runProxy(t, cluster);
  await upAll(p, cluster);
  const conf = adminKubeconfig(cluster, p.proxy, 'kubernetes');
  const result = await runMain(['doctor', '--kubeconfig', conf, '--proxy', p.proxy, '--admin', p.admin]);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0, result.stdout);
  const lines = result.stdout.trimEnd().split('\n');
  assert.ok(lines.every((line) => line.startsWith('ok ') || line.startsWith('doctor: ')), result.stdout);
  assert.match(result.stdout, /^ok +127\.0\.0\.1:\d+ serves CN=kube-apiserver, issued by CN=kubernetes, .*names: DNS:kubernetes, /m);
  assert.match(result.stdout, /the certificate holds "kubernetes", the name the client verifies \(tls-server-name\)/);
  assert.match(result.stdout, /GET \/readyz through 127\.0\.0\.1:\d+ as client certificate CN=kubernetes-admin answered 200 ok/);
  for (const a of cluster.apiservers) assert.match(result.stdout, new RegExp(`^ok +backend ${a.address}: up since `, 'm'));
  assert.equal(lines.at(-1), 'doctor: no problem found');
});

test('doctor pointed past the proxy (at an apiserver itself) warns first, with the proxy\'s listen address from its admin endpoint', async (t) => {
  const cluster = await fakeCluster(1, { startup: 'instant' });
  t.after(() => cluster.close());
  const p = await runProxy(t, cluster);
  await upAll(p, cluster);
  const [apiserver] = cluster.apiservers;
  assert.ok(apiserver);
  const result = await runMain(['doctor', '--proxy', apiserver.address, '--admin', p.admin]);
  assert.equal(result.stderr, '');
  assert.equal(result.stdout.split('\n')[0], `warn    kube-local-lb (admin ${p.admin}) listens on ${p.proxy}, not on ${apiserver.address}: ` +
    'what answers there is not this proxy (on a control-plane node 127.0.0.1:6443 is kube-apiserver), so what follows is not the path ' +
    `through it; fix: pass --proxy ${p.proxy}`);
  assert.match(result.stdout.trimEnd().split('\n').at(-1) ?? '', /^doctor: 0 problems, 1 warning$/);
});

test('the 127.0.0.1 trap: a kubeconfig without tls-server-name gets the finding and its fix; exit 1', async (t) => {
  const cluster = await fakeCluster(1, { startup: 'instant' });
  t.after(() => cluster.close());
  const p = await runProxy(t, cluster);
  await upAll(p, cluster);
  const conf = adminKubeconfig(cluster, p.proxy, undefined);
  const result = await runMain(['doctor', '--kubeconfig', conf, '--proxy', p.proxy, '--admin', p.admin]);
  assert.equal(result.code, 1, result.stdout);
  const finding = result.stdout.split('\n').filter((line) => line.startsWith('PROBLEM'));
  assert.equal(finding.length, 1, result.stdout);
  assert.equal(finding[0], `PROBLEM ${conf}: the client verifies "127.0.0.1" (the host of server https://${p.proxy}), which the certificate does not hold ` +
    '(DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP Address:10.96.0.1); ' +
    'kubeadm serving certificates never hold 127.0.0.1 or localhost; ' +
    `fix: set tls-server-name: kubernetes (kube-local-lb kubeconfig --in ${conf} --out ${conf} --tls-server-name kubernetes), ` +
    'or add 127.0.0.1 to apiServer.certSANs and renew the apiserver certificates');
  assert.match(result.stdout, /\ndoctor: 1 problem, 0 warnings\n$/);
});

test('a certificate without the name "kubernetes": tls-server-name kubernetes is refused, and a name it holds is advised; exit 1', async (t) => {
  const pki = makeClusterPki({ sans: { dnsNames: ['apiserver.internal.example'], ipAddresses: ['10.0.0.10'] } });
  const cluster = await fakeCluster(1, { startup: 'instant', pki });
  t.after(() => cluster.close());
  const p = await runProxy(t, cluster, ['--health-tls-server-name', 'apiserver.internal.example']);
  await upAll(p, cluster);
  const conf = adminKubeconfig(cluster, p.proxy, 'kubernetes');
  const result = await runMain(['doctor', '--kubeconfig', conf, '--proxy', p.proxy, '--admin', p.admin]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stdout, new RegExp(`^PROBLEM ${conf}: tls-server-name "kubernetes" is not a name of the certificate ` +
    '\\(DNS:apiserver\\.internal\\.example, IP Address:10\\.0\\.0\\.10\\); fix: set tls-server-name to one of its names ' +
    `\\(kube-local-lb kubeconfig --in ${conf} --out ${conf} --tls-server-name apiserver\\.internal\\.example\\)$`, 'm'));
});

test('a kubeconfig whose CA did not sign the served certificate: the chain finding; exit 1', async (t) => {
  const cluster = await fakeCluster(1, { startup: 'instant' });
  t.after(() => cluster.close());
  const p = await runProxy(t, cluster);
  await upAll(p, cluster);
  const other = makeClusterPki();
  const conf = cluster.file('other.conf', kubeconfig({ server: `https://${p.proxy}`, caPem: other.ca.certPem, tlsServerName: 'kubernetes', user: {} }));
  const result = await runMain(['doctor', '--kubeconfig', conf, '--proxy', p.proxy, '--admin', p.admin]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stdout, /^PROBLEM .*other\.conf: the served certificate does not verify against the kubeconfig's CA \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)\); fix: set certificate-authority-data/m);
});

test('health checks forbidden (system:public-info-viewer unbound, 403): the finding names the RBAC fix; exit 1', async (t) => {
  const cluster = await fakeCluster(2, { startup: 'instant', publicInfoViewer: false });
  t.after(() => cluster.close());
  const p = await runProxy(t, cluster);
  for (const a of cluster.apiservers) await p.logged({ event: 'backend_check_unauthorized', backend: a.address, reason: 'forbidden' });
  const result = await runMain(['doctor', '--proxy', p.proxy, '--admin', p.admin]);
  assert.equal(result.code, 1, result.stdout);
  const addresses = cluster.apiservers.map((a) => a.address).join(', ');
  const line = result.stdout.split('\n').find((l) => l.includes('forbidden (403)'));
  assert.ok(line, result.stdout);
  assert.ok(line.startsWith(`PROBLEM health checks of ${addresses} are forbidden (403)`), line);
  assert.match(line, /fix: restore the default binding: kubectl create clusterrolebinding system:public-info-viewer --clusterrole=system:public-info-viewer --group=system:authenticated --group=system:unauthenticated; or give the checks a credential whose user may: --health-auth token\|client-cert\|kubeconfig/);
});

test('health checks unauthorized (--anonymous-auth=false, 401): the finding names AuthenticationConfiguration and the credential modes; exit 1', async (t) => {
  const cluster = await fakeCluster(1, { startup: 'instant', anonymous: 'off' });
  t.after(() => cluster.close());
  const p = await runProxy(t, cluster);
  await p.logged({ event: 'backend_check_unauthorized', reason: 'unauthorized' });
  const result = await runMain(['doctor', '--proxy', p.proxy, '--admin', p.admin]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stdout, /^PROBLEM health checks of \S+ are refused \(401\): anonymous requests are off \(--anonymous-auth=false\).*fix: give the checks a credential: --health-auth kubeconfig .*AuthenticationConfiguration anonymous: \{enabled: true, conditions: \[\{path: \/livez\}, \{path: \/readyz\}, \{path: \/healthz\}\]\}/m);
});

test('a dead backend and a stopped proxy are problems with fixes; bad flags exit 2 with one line', async (t) => {
  const cluster = await fakeCluster(2, { startup: 'instant' });
  t.after(() => cluster.close());
  const p = await runProxy(t, cluster);
  await upAll(p, cluster);
  const [dead] = cluster.apiservers;
  assert.ok(dead);
  dead.crash();
  await p.logged({ event: 'backend_state', backend: dead.address, to: 'down' });
  const result = await runMain(['doctor', '--proxy', p.proxy, '--admin', p.admin]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stdout, new RegExp(`^PROBLEM backend ${dead.address}: down since .*: connection refused; fix: nothing listens there: is kube-apiserver running`, 'm'));

  const nothing = await runMain(['doctor', '--proxy', '127.0.0.1:1', '--admin', 'http://127.0.0.1:1']);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stdout, /^PROBLEM nothing listens on 127\.0\.0\.1:1 \(connection refused\); fix: start kube-local-lb/m);
  assert.match(nothing.stdout, /^PROBLEM cannot read http:\/\/127\.0\.0\.1:1\/backends: ECONNREFUSED; fix: is kube-local-lb running\?/m);

  const usage = [
    { args: ['--proxy', 'https://127.0.0.1:6443'], stderr: '--proxy: "https://127.0.0.1:6443" is a URL, not HOST:PORT (e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)' },
    { args: ['--admin', 'https://127.0.0.1:9445'], stderr: '--admin: "https://127.0.0.1:9445" is not an http:// URL (e.g. http://127.0.0.1:9445)' },
    { args: ['--admin', '127.0.0.1:9445'], stderr: '--admin: "127.0.0.1:9445" is not a URL (e.g. http://127.0.0.1:9445)' },
    { args: ['--kubeconfig', cluster.file('broken.conf', 'clusters: [\n')], stderr: `${cluster.dir}/broken.conf:2:1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]` },
    { args: ['--kubeconfig', `${cluster.dir}/absent.conf`], stderr: `--kubeconfig: "${cluster.dir}/absent.conf" cannot be read: no such file` },
  ];
  for (const u of usage) {
    const r = await runMain(['doctor', ...u.args]);
    assert.equal(r.code, 2, u.args.join(' '));
    assert.equal(r.stderr, `kube-local-lb: ${u.stderr}\n`);
    assert.equal(r.stdout, '');
  }
});
