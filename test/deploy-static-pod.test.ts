import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseDocument } from 'yaml';
import { DEFAULTS } from '../src/config/schema.js';
import { runMain } from './cli-spawn.js';
import { makeClusterPki } from './fake-apiserver/index.js';
import { kubeconfig } from './fake-apiserver/kubeconfig.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MANIFEST = join(ROOT, 'static-pod/kube-local-lb.yaml');
const CONFIG = join(ROOT, 'static-pod/config.yaml');
const CONFIG_DIR = '/etc/kube-local-lb';

interface Container {
  name: string;
  image: string;
  args: string[];
  securityContext: Record<string, unknown> & { capabilities: { drop: string[] } };
  livenessProbe: { httpGet: { host: string; port: number; path: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  volumeMounts: { name: string; mountPath: string; readOnly: boolean }[];
}

interface PodManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: {
    hostNetwork: boolean;
    priorityClassName: string;
    automountServiceAccountToken: boolean;
    securityContext: Record<string, unknown>;
    containers: Container[];
    volumes: { name: string; hostPath: { path: string; type: string } }[];
  };
}

// `kubectl create --dry-run=client` needs an apiserver for discovery even with --validate=false,
// so the manifest's structure is checked here field by field.
function manifest(): PodManifest {
  const document = parseDocument(readFileSync(MANIFEST, 'utf8'), { uniqueKeys: true });
  assert.deepEqual(document.errors, []);
  return document.toJS() as PodManifest;
}

function container(): Container {
  const [only, ...more] = manifest().spec.containers;
  assert.ok(only);
  assert.equal(more.length, 0);
  return only;
}

test('the static pod is a Pod on the host network, node-critical, non-root, read-only, without capabilities or token', () => {
  const pod = manifest();
  assert.equal(pod.apiVersion, 'v1');
  assert.equal(pod.kind, 'Pod');
  assert.equal(pod.metadata.namespace, 'kube-system');
  assert.equal(pod.spec.hostNetwork, true);
  assert.equal(pod.spec.priorityClassName, 'system-node-critical');
  assert.equal(pod.spec.automountServiceAccountToken, false);
  assert.equal(pod.spec.securityContext['runAsNonRoot'], true);
  assert.equal(pod.spec.securityContext['runAsUser'], 65532);
  const c = container();
  assert.equal(c.image, 'kube-local-lb:0.1.0');
  assert.equal(c.securityContext['runAsNonRoot'], true);
  assert.equal(c.securityContext['runAsUser'], 65532);
  assert.equal(c.securityContext['readOnlyRootFilesystem'], true);
  assert.equal(c.securityContext['allowPrivilegeEscalation'], false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.ok(c.resources.requests['cpu'] && c.resources.requests['memory'] && c.resources.limits['memory']);
  assert.deepEqual(c.args, ['run', '--config', `${CONFIG_DIR}/config.yaml`]);
});

test('the image tag is the package version, and the Dockerfile runs the same user and arguments as the pod', () => {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const c = container();
  assert.equal(c.image, `kube-local-lb:${version}`);
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^USER 65532:65532$/m);
  // The image runs the executable the .deb installs, at the same path.
  assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/kube-local-lb"\]$/m);
  assert.match(dockerfile, /^COPY --from=build \/src\/dist-bin\/kube-local-lb \/usr\/bin\/kube-local-lb$/m);
  assert.match(dockerfile, /^RUN npm run build && node packaging\/package\.mjs --executable-only$/m);
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.deepEqual(JSON.parse(cmd ?? 'null'), c.args);
  assert.doesNotMatch(dockerfile, /^EXPOSE/m);
});

test('the config and the credential come from a read-only hostPath; liveness is the admin /livez of the config', () => {
  const pod = manifest();
  const c = container();
  const [mount] = c.volumeMounts;
  assert.ok(mount);
  assert.equal(mount.mountPath, CONFIG_DIR);
  assert.equal(mount.readOnly, true);
  const volume = pod.spec.volumes.find((v) => v.name === mount.name);
  assert.deepEqual(volume?.hostPath, { path: CONFIG_DIR, type: 'Directory' });
  const config = parse(readFileSync(CONFIG, 'utf8')) as { adminListen: string; health: { kubeconfig: string } };
  assert.ok(config.health.kubeconfig.startsWith(`${CONFIG_DIR}/`), 'the credential is inside the mounted directory');
  const probe = c.livenessProbe.httpGet;
  assert.equal(`${probe.host}:${probe.port}`, config.adminListen);
  assert.equal(probe.path, '/livez');
});

test('the pod\'s arguments pass check-config with the example config (its directory stood in for by a temp one)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'klb-static-pod-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makeClusterPki();
  writeFileSync(join(dir, 'kubeconfig'), kubeconfig({ server: 'https://10.0.0.11:6443', caPem: pki.ca.certPem,
    user: { certPem: pki.probe.certPem, keyPem: pki.probe.keyPem } }), { mode: 0o600 });
  writeFileSync(join(dir, 'config.yaml'), readFileSync(CONFIG, 'utf8').replaceAll(`${CONFIG_DIR}/`, `${dir}/`));
  const [command, ...rest] = container().args.map((arg) => arg.replace(CONFIG_DIR, dir));
  assert.equal(command, 'run');
  const result = await runMain(['check-config', ...rest]);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^ {2}auth: kubeconfig$/m);
  assert.match(result.stdout, /^ {2}- address: 10\.0\.0\.13:6443$/m);
});

const CLUSTER_IP_MANIFEST = join(ROOT, 'static-pod/kube-local-lb-cluster-ip.yaml');

function clusterIpManifest(): PodManifest & { spec: { containers: (Container & { securityContext: { capabilities: { add?: string[] } } })[] } } {
  const document = parseDocument(readFileSync(CLUSTER_IP_MANIFEST, 'utf8'), { uniqueKeys: true });
  assert.deepEqual(document.errors, []);
  return document.toJS() as ReturnType<typeof clusterIpManifest>;
}

/** Kubernetes and systemd sizes in bytes: `96Mi`, `384M` (systemd's M is 1024 x 1024 too). */
function bytes(size: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|K|M|G)$/.exec(size);
  assert.ok(match, `a size: ${size}`);
  const power = { K: 1, M: 2, G: 3 }[(match[2] ?? 'K').charAt(0) as 'K' | 'M' | 'G'];
  return Number(match[1]) * 1024 ** power;
}

test('the memory request covers run\'s measured idle memory, the limit maxConnections held at the measured cost; the unit has the same limit', () => {
  const page = readFileSync(join(ROOT, 'docs/performance.md'), 'utf8');
  // kube-local-lb's column of the bench tables (Node 20), and the Node 24 idle figures of the prose.
  const column = (row: string): number[] => [...page.matchAll(new RegExp(`^\\| memory \\| ${row} \\| [^|]+ \\| [\\d.]+ \\| ([\\d.]+) \\|`, 'gm'))]
    .map((m) => Number(m[1]));
  const perConnectionKb = column('RSS per held connection, kB');
  const idleMb = [...column('RSS idle, kB').map((kb) => kb / 1000),
    ...[...page.matchAll(/(\d+(?:\.\d+)?) MB on Node 24|idle RSS (\d+) MB/g)].map((m) => Number(m[1] ?? m[2]))];
  assert.ok(perConnectionKb.length >= 3 && idleMb.length >= 4, `figures found: ${perConnectionKb.join(', ')}; ${idleMb.join(', ')}`);
  const idle = Math.max(...idleMb) * 1e6;
  const held = Math.max(...perConnectionKb) * 1e3 * DEFAULTS.maxConnections;
  const { requests, limits } = container().resources;
  assert.ok(bytes(requests['memory'] ?? '') >= idle, `request ${requests['memory']} against ${idle / 1e6} MB idle`);
  // A quarter above the measured sum: replay buffers, and garbage the collector has not taken yet.
  const needed = 1.25 * (idle + held);
  assert.ok(bytes(limits['memory'] ?? '') >= needed, `limit ${limits['memory']} against ${Math.round(needed / 1e6)} MB`);
  assert.equal(limits['cpu'], undefined, 'no CPU limit: throttling stalls every client of the node');
  const unit = readFileSync(join(ROOT, 'systemd/kube-local-lb.service'), 'utf8');
  const memoryMax = /^MemoryMax=(\S+)$/m.exec(unit)?.[1] ?? '';
  assert.equal(bytes(memoryMax), bytes(limits['memory'] ?? ''), 'MemoryMax= is the pod\'s limit');
});

test('the --cluster-ip static pod: root with NET_ADMIN and NET_BIND_SERVICE only, --cluster-ip auto, otherwise the same pod', () => {
  const pod = clusterIpManifest();
  const [c, ...more] = pod.spec.containers;
  assert.ok(c);
  assert.equal(more.length, 0);
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_BIND_SERVICE'] });
  assert.equal(c.securityContext['runAsUser'], 0);
  assert.equal(c.securityContext['runAsNonRoot'], false);
  assert.equal(c.securityContext['allowPrivilegeEscalation'], false);
  assert.equal(c.securityContext['readOnlyRootFilesystem'], true);
  assert.equal(pod.spec.securityContext['runAsUser'], 0);
  assert.equal(pod.spec.hostNetwork, true, 'the address and the table must be the node\'s');
  assert.deepEqual(c.args, [...container().args, '--cluster-ip', 'auto']);
  // Everything else is kube-local-lb.yaml's: the two files cannot drift apart.
  const base = manifest();
  const strip = (p: PodManifest): unknown => ({
    ...p,
    spec: { ...p.spec, securityContext: { ...p.spec.securityContext, runAsNonRoot: 0, runAsUser: 0, runAsGroup: 0 },
      containers: p.spec.containers.map((k) => ({ ...k, args: [], securityContext: { ...k.securityContext, runAsNonRoot: 0, runAsUser: 0, runAsGroup: 0, capabilities: {} } })) },
  });
  assert.deepEqual(strip(pod), strip(base));
});

test('the --cluster-ip static pod\'s arguments pass check-config with the example config; docs/pods.md names the manifest', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'klb-static-pod-cip-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makeClusterPki();
  writeFileSync(join(dir, 'kubeconfig'), kubeconfig({ server: 'https://10.0.0.11:6443', caPem: pki.ca.certPem,
    user: { certPem: pki.probe.certPem, keyPem: pki.probe.keyPem } }), { mode: 0o600 });
  writeFileSync(join(dir, 'config.yaml'), readFileSync(CONFIG, 'utf8').replaceAll(`${CONFIG_DIR}/`, `${dir}/`));
  const [c] = clusterIpManifest().spec.containers;
  const [command, ...rest] = (c?.args ?? []).map((arg) => arg.replace(CONFIG_DIR, dir));
  assert.equal(command, 'run');
  const result = await runMain(['check-config', ...rest]);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^clusterIP:\n {2}address: auto$/m);
  assert.match(readFileSync(join(ROOT, 'docs/pods.md'), 'utf8'), /static-pod\/kube-local-lb-cluster-ip\.yaml/);
});
