import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAIN } from '../cli-spawn.js';
import { realClusterOrSkip, startRealCluster, type RealCluster } from '../helpers/real-cluster.js';
import { kubectl, startNodeLb, type NodeLb } from '../helpers/real-node.js';

// Three real kube-apiservers with --anonymous-auth=false, RBAC and the lease reconciler: the
// health-check credentials other than anonymous, doctor with a kubeadm-shaped kubelet
// kubeconfig, and discovery of the real EndpointSlice default/kubernetes.

const { binaries, skip } = realClusterOrSkip();

describe('real apiservers, --anonymous-auth=false', { skip, timeout: 900_000 }, () => {
  let c: RealCluster;
  before(async () => {
    c = await startRealCluster(binaries!, { anonymousAuth: false, reconciler: 'lease' });
  }, { timeout: 300_000 });
  after(() => c?.stop());

  const backendArgs = () => c.apiservers.flatMap((a) => ['--backend', a.address]);
  const lbKubeconfig = (name: string, auth: Parameters<RealCluster['kubeconfig']>[2]) => c.kubeconfig(name, `https://127.0.0.1:6444`, auth);

  async function assertServes(lb: NodeLb): Promise<void> {
    await lb.waitUp(3, 30_000);
    for (const b of await lb.backends()) {
      assert.equal(b.state, 'up', JSON.stringify(b));
      assert.equal(b['checkAuthorized'], true, JSON.stringify(b));
      assert.equal((b['lastCheck'] as { status?: number } | null)?.status, 200, JSON.stringify(b));
    }
    const r = await kubectl(c, lbKubeconfig('admin-lb', { token: c.creds.adminToken }), ['get', '--raw', '/readyz']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');
  }

  test('--health-auth token: a token user with no binding passes the real /readyz on every apiserver', { timeout: 120_000 }, async () => {
    const lb = await startNodeLb(c, [...backendArgs(), '--health-auth', 'token', '--health-token-file', c.creds.healthTokenFile]);
    try {
      await assertServes(lb);
    } finally {
      await lb.stop();
    }
  });

  test('--health-auth client-cert: a client certificate of the cluster CA passes the real /readyz', { timeout: 120_000 }, async () => {
    const lb = await startNodeLb(c, [...backendArgs(), '--health-auth', 'client-cert',
      '--health-client-cert', c.creds.healthCert, '--health-client-key', c.creds.healthKey]);
    try {
      await assertServes(lb);
    } finally {
      await lb.stop();
    }
  });

  test('--health-auth kubeconfig: a kubeadm-shaped kubelet.conf (node certificate, CA inline) passes the real /readyz', { timeout: 120_000 }, async () => {
    const kc = kubeletConf(c);
    const lb = await startNodeLb(c, [...backendArgs(), '--health-auth', 'kubeconfig', '--health-kubeconfig', kc]);
    try {
      await assertServes(lb);
    } finally {
      await lb.stop();
    }
  });

  test('--health-auth anonymous against --anonymous-auth=false: every check is refused (401) and says so', { timeout: 120_000 }, async () => {
    const lb = await startNodeLb(c, [...backendArgs(), '--health-auth', 'anonymous']);
    try {
      const rec = await lb.waitFor({ event: 'backend_check_unauthorized' }, 30_000);
      assert.match(String(rec['msg']), /rejected/);
      const views = await lb.backends();
      assert.ok(views.some((b) => (b['lastCheck'] as { status?: number } | null)?.status === 401), JSON.stringify(views));
    } finally {
      await lb.stop();
    }
  });

  test('doctor with a kubeadm-shaped kubelet kubeconfig through kube-local-lb: exit 0', { timeout: 120_000 }, async () => {
    const lb = await startNodeLb(c, [...backendArgs(), '--health-auth', 'kubeconfig', '--health-kubeconfig', kubeletConf(c)]);
    try {
      await lb.waitUp(3);
      const r = await c.nodeRun(process.execPath, [MAIN, 'doctor', '--kubeconfig', kubeletConf(c)], 60_000);
      assert.equal(r.code, 0, `doctor exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    } finally {
      await lb.stop();
    }
  });

  test('discovery: without docs/discovery.md\'s Role the real apiserver refuses the watch (403), said in a log line, a metric and doctor', { timeout: 120_000 }, async () => {
    const lb = await startNodeLb(c, ['--backend', c.apiservers[0]!.address, '--discover',
      '--health-auth', 'token', '--health-token-file', c.creds.discoverTokenFile]);
    try {
      const rec = await lb.waitFor({ event: 'discovery_error', reason: 'forbidden' }, 30_000);
      assert.equal(rec['level'], 'error', JSON.stringify(rec));
      assert.ok((await lb.metric('kube_local_lb_discovery_errors_total', { reason: 'forbidden' })) >= 1);
      const kc = lbKubeconfig('discover-lb', { token: c.creds.discoverToken });
      const doctor = await c.nodeRun(process.execPath, [MAIN, 'doctor', '--kubeconfig', kc], 60_000);
      assert.match(doctor.stdout + doctor.stderr, /discover|endpointslices|forbidden/i, doctor.stdout);
    } finally {
      await lb.stop();
    }
  });

  test('discovery: with docs/discovery.md\'s Role and RoleBinding it finds the three apiservers of the real EndpointSlice', { timeout: 180_000 }, async () => {
    const rbac = readFileSync(new URL('../../../docs/discovery.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n(apiVersion: rbac[\s\S]*?)```/.exec(rbac)?.[1];
    assert.ok(yaml, 'docs/discovery.md has the RBAC YAML');
    const applied = await c.adminKubectl(['apply', '-f', '-'], yaml);
    assert.equal(applied.code, 0, applied.stderr);
    const lb = await startNodeLb(c, ['--backend', c.apiservers[0]!.address, '--discover',
      '--health-auth', 'token', '--health-token-file', c.creds.discoverTokenFile]);
    try {
      const want = c.apiservers.map((a) => a.address).sort();
      const deadline = Date.now() + 60_000;
      let seen: string[] = [];
      while (Date.now() < deadline) {
        const rec = lb.records.filter((r) => r['event'] === 'discovery_updated').pop();
        seen = ((rec?.['backends'] as string[] | undefined) ?? []).slice().sort();
        if (seen.join() === want.join()) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.deepEqual(seen, want);
      await lb.waitUp(3);
    } finally {
      await lb.stop();
      await c.adminKubectl(['delete', '-f', '-'], yaml);
    }
  });
});

/** kubelet.conf as kubeadm writes it, pointed at kube-local-lb: CA inline, the node's cert+key file. */
function kubeletConf(c: RealCluster): string {
  const path = join(c.dir, 'kubelet.conf');
  const ca = Buffer.from(readFileSync(c.creds.caFile)).toString('base64');
  writeFileSync(path, [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${ca}`,
    '    server: https://127.0.0.1:6444',
    '    tls-server-name: kubernetes',
    '  name: kubernetes',
    'contexts:',
    '- context:',
    '    cluster: kubernetes',
    `    user: system:node:${c.creds.nodeName}`,
    `  name: system:node:${c.creds.nodeName}@kubernetes`,
    `current-context: system:node:${c.creds.nodeName}@kubernetes`,
    'kind: Config',
    'preferences: {}',
    'users:',
    `- name: system:node:${c.creds.nodeName}`,
    '  user:',
    `    client-certificate: ${c.creds.nodeCertAndKey}`,
    `    client-key: ${c.creds.nodeCertAndKey}`,
    '',
  ].join('\n'), { mode: 0o600 });
  return path;
}
