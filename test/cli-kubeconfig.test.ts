import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runMain } from './cli-spawn.js';
import { fakeCluster } from './helpers/cluster.js';
import { commandExists } from './helpers/command-exists.js';
import { logSink } from './helpers/logs.js';
import { startProxy } from './helpers/proxy.js';

const run = promisify(execFile);
const CA_DATA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

/** What `kubeadm join` writes to /etc/kubernetes/kubelet.conf: key order, indentation and all. */
const KUBELET_CONF = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${CA_DATA}
    server: https://10.0.0.10:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: system:node:node-1
  name: system:node:node-1@kubernetes
current-context: system:node:node-1@kubernetes
kind: Config
preferences: {}
users:
- name: system:node:node-1
  user:
    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem
`;

/** An admin's kubeconfig edited by hand: comments, quoting, a flow mapping, several clusters. */
const ADMIN_CONF = `# clusters this admin works with
apiVersion: v1
kind: Config
clusters:
  - name: "prod" # the kubeadm one
    cluster:
      certificate-authority-data: ${CA_DATA}
      # the old VIP, to be replaced by the node-local proxy
      server: "https://10.0.0.10:6443"   # keepalived
      tls-server-name: old.example.com
  - name: lab
    cluster: {certificate-authority: ca.crt, server: 'https://lab.example.com:6443'}
contexts:
  - {name: prod, context: {cluster: prod, user: admin}}
current-context: prod
users:
  - name: admin
    user:
      client-certificate-data: ${CA_DATA}
      client-key-data: ${CA_DATA}
`;

function scratch(t: { after(fn: () => void): void }): (name: string, content?: string) => string {
  const dir = mkdtempSync(join(tmpdir(), 'klb-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return (name, content) => {
    const path = join(dir, name);
    if (content !== undefined) writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
}

test('a kubeadm kubelet.conf: server and tls-server-name change, every other byte stays, the new file is 0600', async (t) => {
  const file = scratch(t);
  const input = file('kubelet.conf', KUBELET_CONF);
  const output = file('kubelet-new.conf');
  const result = await runMain(['kubeconfig', '--in', input, '--out', output]);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  assert.equal(readFileSync(output, 'utf8'), KUBELET_CONF.replace('    server: https://10.0.0.10:6443\n',
    '    server: https://127.0.0.1:6444\n    tls-server-name: kubernetes\n'));
  assert.equal(statSync(output).mode & 0o777, 0o600);
  assert.equal(result.stdout, [
    `${input}: cluster "kubernetes": server: https://10.0.0.10:6443 -> https://127.0.0.1:6444`,
    `${input}: cluster "kubernetes": tls-server-name: (not set) -> kubernetes`,
    `wrote ${output}`, ''].join('\n'));
  assert.equal(readFileSync(input, 'utf8'), KUBELET_CONF, 'the input is untouched');
});

test('several clusters, comments, quotes and a flow mapping: each value is rewritten in its own style', async (t) => {
  const file = scratch(t);
  const input = file('admin.conf', ADMIN_CONF);
  const result = await runMain(['kubeconfig', '--in', input, '--server', 'https://127.0.0.1:7443']);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  assert.equal(result.stdout, ADMIN_CONF
    .replace('server: "https://10.0.0.10:6443"   # keepalived', 'server: "https://127.0.0.1:7443"   # keepalived')
    .replace('tls-server-name: old.example.com', 'tls-server-name: kubernetes')
    .replace("server: 'https://lab.example.com:6443'}", "server: 'https://127.0.0.1:7443', tls-server-name: 'kubernetes'}"));
});

test('--cluster rewrites only the named clusters', async (t) => {
  const file = scratch(t);
  const input = file('admin.conf', ADMIN_CONF);
  const result = await runMain(['kubeconfig', '--in', input, '--cluster', 'lab', '--check']);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, [
    `${input}: cluster "lab": server: https://lab.example.com:6443 -> https://127.0.0.1:6444`,
    `${input}: cluster "lab": tls-server-name: (not set) -> kubernetes`,
    '--check: nothing written', ''].join('\n'));
});

test('--check prints the changes and writes nothing', async (t) => {
  const file = scratch(t);
  const input = file('kubelet.conf', KUBELET_CONF);
  const output = file('never.conf');
  const before = statSync(input).mtimeMs;
  const result = await runMain(['kubeconfig', '--in', input, '--out', output, '--check']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /server: https:\/\/10\.0\.0\.10:6443 -> https:\/\/127\.0\.0\.1:6444\n.*tls-server-name: \(not set\) -> kubernetes\n--check: nothing written\n$/);
  assert.equal(existsSync(output), false);
  assert.equal(readFileSync(input, 'utf8'), KUBELET_CONF);
  assert.equal(statSync(input).mtimeMs, before);
});

test('in place: the file keeps its mode; a second run finds nothing to change and leaves the bytes alone', async (t) => {
  const file = scratch(t);
  const input = file('kubelet.conf', KUBELET_CONF);
  chmodSync(input, 0o640);
  const first = await runMain(['kubeconfig', '--in', input, '--out', input]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(statSync(input).mode & 0o777, 0o640);
  const once = readFileSync(input, 'utf8');
  assert.match(once, /server: https:\/\/127\.0\.0\.1:6444\n {4}tls-server-name: kubernetes\n/);
  const second = await runMain(['kubeconfig', '--in', input, '--out', input]);
  assert.equal(second.code, 0);
  assert.equal(second.stdout, `${input}: nothing to change: its clusters use https://127.0.0.1:6444 with tls-server-name kubernetes\n${input} left as it was\n`);
  assert.equal(readFileSync(input, 'utf8'), once);
});

test('a rewritten kubelet-style kubeconfig (file paths) works with kubectl through the proxy', async (t) => {
  if (!commandExists('kubectl')) return t.skip('kubectl is not installed');
  const cluster = await fakeCluster(2, { startup: 'instant' });
  t.after(() => cluster.close());
  const logs = logSink('info');
  const caFile = cluster.file('ca.crt', cluster.pki.ca.certPem);
  const lb = await startProxy({ backends: cluster.apiservers.map((a) => a.address),
    health: { scheme: 'https', caFile, intervalMs: 100, timeoutMs: 500 } }, logs);
  t.after(() => lb.close());
  cluster.file('node.pem', cluster.pki.node.certPem + cluster.pki.node.keyPem);
  // As kubeadm writes it, but with relative paths so the test needs no /var/lib/kubelet.
  const kubelet = cluster.file('kubelet.conf', KUBELET_CONF
    .replace(`certificate-authority-data: ${CA_DATA}`, 'certificate-authority: ca.crt')
    .replace(/\/var\/lib\/kubelet\/pki\/kubelet-client-current\.pem/g, 'node.pem'));
  const rewritten = await runMain(['kubeconfig', '--in', kubelet, '--out', kubelet, '--server', `https://127.0.0.1:${lb.port}`]);
  assert.equal(rewritten.code, 0, rewritten.stderr);
  const { stdout } = await run('kubectl', ['--kubeconfig', kubelet, 'get', '--raw', '/readyz'], { timeout: 20_000 });
  assert.equal(stdout.trim(), 'ok');
});

test('a file that cannot be read, parsed or understood is refused: one line naming it, exit 2, nothing written', async (t) => {
  const file = scratch(t);
  const cases: Array<{ name: string; content?: string; args?: string[]; stderr: (path: string) => string }> = [
    { name: 'missing.conf', stderr: (p) => `--in: "${p}" cannot be read: no such file` },
    { name: 'syntax.conf', content: 'apiVersion: v1\nclusters:\n- cluster:\n    server: [https://x\n', stderr: (p) => `${p}:5:1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]` },
    { name: 'duplicate.conf', content: 'clusters: []\nclusters: []\n', stderr: (p) => `${p}:2:1: not valid YAML: Map keys must be unique` },
    { name: 'scalar.conf', content: 'just text\n', stderr: (p) => `${p}: is not a kubeconfig: expected a mapping with clusters, users and contexts` },
    { name: 'empty.conf', content: '', stderr: (p) => `${p}: is empty: not a kubeconfig` },
    { name: 'two.conf', content: 'clusters: []\n---\nclusters: []\n', stderr: (p) => `${p}: holds more than one YAML document: a kubeconfig is one` },
    { name: 'kind.conf', content: 'kind: Pod\nclusters: []\n', stderr: (p) => `${p}: kind: "Pod" is not Config: not a kubeconfig` },
    { name: 'noclusters.conf', content: 'apiVersion: v1\nkind: Config\nusers: []\n', stderr: (p) => `${p}: clusters: missing: a kubeconfig names at least one cluster` },
    { name: 'noserver.conf', content: 'clusters:\n- name: a\n  cluster:\n    insecure-skip-tls-verify: true\n', stderr: (p) => `${p}: clusters[0].cluster.server: missing` },
    { name: 'numberserver.conf', content: 'clusters:\n- name: a\n  cluster: {server: 6443}\n', stderr: (p) => `${p}: clusters[0].cluster.server: 6443 is not a URL (e.g. https://10.0.0.10:6443)` },
    { name: 'ok.conf', content: KUBELET_CONF, args: ['--server', 'http://127.0.0.1:6443'], stderr: () => '--server: "http://127.0.0.1:6443" is not an https:// URL (e.g. https://127.0.0.1:6444)' },
    { name: 'ok.conf', content: KUBELET_CONF, args: ['--tls-server-name', 'not a name'], stderr: () => '--tls-server-name: "not a name" is not a DNS name or IP address (e.g. kubernetes)' },
    { name: 'ok.conf', content: KUBELET_CONF, args: ['--cluster', 'prod'], stderr: (p) => `--cluster: "prod" is not a cluster of ${p} (it has kubernetes)` },
    { name: 'ok.conf', content: KUBELET_CONF, args: ['--check=maybe'], stderr: () => '--check: "maybe" is not true or false' },
  ];
  for (const c of cases) {
    const input = file(c.name, c.content);
    const output = file(`${c.name}.out`);
    const result = await runMain(['kubeconfig', '--in', input, '--out', output, ...(c.args ?? [])]);
    assert.equal(result.code, 2, `${c.name} ${c.args?.join(' ') ?? ''}`);
    assert.equal(result.stderr, `kube-local-lb: ${c.stderr(input)}\n`);
    assert.equal(result.stdout, '');
    assert.equal(existsSync(output), false, `${c.name}: nothing written`);
  }
  const missing = await runMain(['kubeconfig']);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, 'kube-local-lb: --in: missing: the kubeconfig to rewrite, e.g. --in /etc/kubernetes/kubelet.conf\n');
  const unwritable = await runMain(['kubeconfig', '--in', file('ok.conf'), '--out', join(file('no-such-dir'), 'kubelet.conf')]);
  assert.equal(unwritable.code, 2);
  assert.match(unwritable.stderr, /^kube-local-lb: --out: ".*no-such-dir\/kubelet\.conf" cannot be written: no such file\n$/);
});
