import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { createCa, issueCert, type CertAndKey } from '../../src/pki/index.js';
import { ip, killNamespace, removeNamespacesOfGoneRuns } from './netns.js';

/**
 * A real control plane for tests: etcd and three kube-apiservers, each in a network namespace
 * and UTS namespace of its own, and a "node" namespace where kube-local-lb and its clients run.
 * The namespaces are joined by a bridge that lives in a hub namespace: no interface of the root
 * namespace gets an address. Everything is removed by PID and by namespace on `stop()`, and
 * leftovers of a run that was killed are removed by the next one.
 */

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BUILD = join(REPO, 'test/real-cluster/build.sh');
/** Namespace names are `krc<pid><role>`: the pid tells a live run from a leftover. */
const NS_PREFIX = 'krc';

export interface RealClusterBinaries {
  'kube-apiserver': string;
  'kube-proxy': string;
  'kubelet-sim': string;
  etcd: string;
}

/** Where the binaries are, or why they cannot be used (not built, not root, no tools). */
export function realClusterBinaries(): RealClusterBinaries | string {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const tool of ['ip', 'unshare', 'nft', 'curl', 'kubectl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) return `${tool} is not installed`;
  }
  const out = spawnSync('bash', [BUILD, '--print'], { encoding: 'utf8' });
  if (out.status !== 0) return `test/real-cluster/build.sh --print failed: ${out.stderr}`;
  const paths = Object.fromEntries(out.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
  for (const [name, path] of Object.entries(paths)) {
    if (!existsSync(path)) return `${name} is not built (${path}); run test/real-cluster/build.sh`;
  }
  return paths as unknown as RealClusterBinaries;
}

/**
 * The binaries, or: under CI a failure (CI builds them first, a missing one is a broken build),
 * elsewhere a skip with the reason. Call at the top of a test file.
 */
export function realClusterOrSkip(): { binaries?: RealClusterBinaries; skip: string | false } {
  const found = realClusterBinaries();
  if (typeof found !== 'string') return { binaries: found, skip: false };
  if (process.env['CI'] === 'true') throw new Error(`real cluster unavailable under CI=true: ${found}`);
  return { skip: `real cluster unavailable: ${found}` };
}

export interface RealClusterOptions {
  reconciler?: 'lease' | 'master-count';
  /** --apiserver-count (master-count only). */
  apiserverCount?: number;
  anonymousAuth?: boolean;
  /** --shutdown-delay-duration, e.g. '0s', '15s'. */
  shutdownDelay?: string;
  /** How many apiservers start (default 3). */
  apiservers?: number;
  /** etcd's watch progress notifications (kubeadm sets 5s), e.g. '5s'; '' leaves etcd's default. */
  etcdProgressNotify?: string;
}

/** A process in a namespace: its PID is the binary's own (ip netns exec and unshare exec it). */
export interface NsProcess {
  child: ChildProcess;
  log: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Apiserver {
  index: number;
  name: string;
  ns: string;
  ip: string;
  port: number;
  /** `IP:PORT`. */
  address: string;
  proc?: NsProcess;
}

export interface Credentials {
  dir: string;
  caFile: string;
  adminToken: string;
  /** A user with no group but system:authenticated: bootstrap RBAC lets it GET /readyz only. */
  healthToken: string;
  healthTokenFile: string;
  /** The user docs/discovery.md binds: kube-local-lb. */
  discoverToken: string;
  discoverTokenFile: string;
  nodeToken: string;
  nodeName: string;
  /** User system:kube-proxy: bootstrap RBAC binds it to ClusterRole system:node-proxier. */
  proxyToken: string;
  /** Client certificate of the health user (CN kube-local-lb), cert and key files. */
  healthCert: string;
  healthKey: string;
  /** Node client certificate (CN system:node:NAME, O system:nodes), cert and key in one file. */
  nodeCertAndKey: string;
}

export interface RealCluster {
  options: Required<RealClusterOptions>;
  id: string;
  dir: string;
  creds: Credentials;
  etcd: { ns: string; ip: string; proc?: NsProcess };
  apiservers: Apiserver[];
  nodeNs: string;
  nodeIp: string;
  /** Spawns a command in the node namespace. */
  nodeSpawn(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /** Runs a command in the node namespace, resolves with its output (never rejects). */
  nodeRun(cmd: string, args: readonly string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** kubectl as cluster admin, straight to an apiserver (not through kube-local-lb). */
  adminKubectl(args: readonly string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** A kubeconfig file for `server`, with a token or a client certificate. */
  kubeconfig(name: string, server: string, auth: { token: string } | { certAndKey: string } | { cert: string; key: string }): string;
  startApiserver(i: number, extra?: readonly string[]): Promise<void>;
  waitReady(i: number, ms?: number): Promise<void>;
  signal(i: number, sig: NodeJS.Signals): void;
  /** Drops every packet between the node and apiserver i (nftables in the node namespace). */
  partition(i: number): void;
  heal(i: number): void;
  /** Drops every packet between apiserver i and etcd (nftables in the apiserver's namespace). */
  cutFromEtcd(i: number): void;
  reconnectEtcd(i: number): void;
  stopEtcd(): Promise<void>;
  startEtcd(): Promise<void>;
  /** The last lines of a process's log. */
  tail(what: 'etcd' | number, lines?: number): string;
  stop(): Promise<void>;
}

function nft(ns: string, script: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
}

/** Removes the namespaces (and their processes) of earlier runs whose test process is gone. */
export function removeLeftovers(): void {
  removeNamespacesOfGoneRuns(new RegExp(`^(${NS_PREFIX}(\\d+)[a-z]\\w*)`));
}

function spawnIn(ns: string, hostname: string | undefined, cmd: string, args: readonly string[], logFile: string): NsProcess {
  const fd = openSync(logFile, 'a');
  const argv = hostname
    ? ['netns', 'exec', ns, 'unshare', '--uts', 'sh', '-c', `hostname ${hostname} && exec "$0" "$@"`, cmd, ...args]
    : ['netns', 'exec', ns, cmd, ...args];
  const child = spawn('ip', argv, { stdio: ['ignore', fd, fd] });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, log: logFile, exit };
}

function run(cmd: string, args: readonly string[], timeoutMs: number, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function makeCredentials(dir: string, apiserverIps: string[], serviceIp: string): Credentials {
  const ca = createCa({ commonName: 'kubernetes', validDays: 30 });
  const w = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const pair = (name: string, c: CertAndKey) => [w(`${name}.crt`, c.certPem), w(`${name}.key`, c.keyPem)] as const;
  // The serving certificate as kubeadm makes it: the service names, the ClusterIP and each
  // apiserver's address, not 127.0.0.1.
  pair('apiserver', issueCert(ca, {
    commonName: 'kube-apiserver',
    dnsNames: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ipAddresses: [serviceIp, ...apiserverIps],
    usage: 'server',
    validDays: 30,
  }));
  const health = issueCert(ca, { commonName: 'kube-local-lb', usage: 'client', validDays: 30 });
  const [healthCert, healthKey] = pair('health', health);
  const nodeName = 'sim-node';
  const node = issueCert(ca, { commonName: `system:node:${nodeName}`, organization: 'system:nodes', usage: 'client', validDays: 30 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  w('sa.key', privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  w('sa.pub', publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const token = () => randomBytes(16).toString('hex');
  const adminToken = token();
  const healthToken = token();
  const discoverToken = token();
  const nodeToken = token();
  const proxyToken = token();
  w('tokens.csv', [
    `${adminToken},admin,admin-uid,"system:masters"`,
    `${healthToken},klb-health,klb-health-uid`,
    `${discoverToken},kube-local-lb,kube-local-lb-uid`,
    `${nodeToken},system:node:${nodeName},node-uid,"system:nodes"`,
    `${proxyToken},system:kube-proxy,kube-proxy-uid`,
  ].join('\n') + '\n');
  return {
    dir,
    caFile: w('ca.crt', ca.certPem),
    adminToken,
    healthToken,
    healthTokenFile: w('health.token', healthToken),
    discoverToken,
    discoverTokenFile: w('discover.token', discoverToken),
    nodeToken,
    nodeName,
    proxyToken,
    healthCert,
    healthKey,
    nodeCertAndKey: w('node.pem', node.certPem + node.keyPem),
  };
}

/** Starts etcd and the apiservers and waits until each apiserver's /readyz is 200. */
export async function startRealCluster(bins: RealClusterBinaries, opts: RealClusterOptions = {}): Promise<RealCluster> {
  removeLeftovers();
  const options: Required<RealClusterOptions> = {
    reconciler: opts.reconciler ?? 'lease',
    apiserverCount: opts.apiserverCount ?? 3,
    anonymousAuth: opts.anonymousAuth ?? true,
    shutdownDelay: opts.shutdownDelay ?? '0s',
    apiservers: opts.apiservers ?? 3,
    etcdProgressNotify: opts.etcdProgressNotify ?? '',
  };
  // One /24 per test process, in a range no other test topology here uses; every address lives
  // inside a namespace this run made.
  const id = `${NS_PREFIX}${process.pid}`;
  const net = `10.237.${process.pid % 250}`;
  const hub = `${id}h`;
  const dir = mkdtempSync(join(tmpdir(), 'klb-real-cluster-'));
  const serviceIp = '10.96.0.1';
  const namespaces: string[] = [hub];
  const apiservers: Apiserver[] = Array.from({ length: options.apiservers }, (_, i) => ({
    index: i,
    name: `apiserver-${i + 1}`,
    ns: `${id}a${i + 1}`,
    ip: `${net}.${11 + i}`,
    port: 6443,
    address: `${net}.${11 + i}:6443`,
  }));
  const etcd: RealCluster['etcd'] = { ns: `${id}e`, ip: `${net}.2` };
  const nodeNs = `${id}n`;
  const nodeIp = `${net}.100`;
  const creds = makeCredentials(dir, apiservers.map((a) => a.ip), serviceIp);

  ip('netns', 'add', hub);
  ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', hub, 'link', 'set', 'br0', 'up');
  const host = (ns: string, addr: string, n: number) => {
    ip('netns', 'add', ns);
    namespaces.push(ns);
    // The veth is made inside the hub with its peer moved straight into the host namespace.
    ip('-n', hub, 'link', 'add', `p${n}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('-n', hub, 'link', 'set', `p${n}`, 'master', 'br0', 'up');
    ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  };
  const procs: NsProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => Promise.race([p.exit, sleep(5_000)])));
    for (const ns of [...namespaces].reverse()) killNamespace(ns);
    if (!process.env['KLB_KEEP_CLUSTER_DIR']) rmSync(dir, { recursive: true, force: true });
  };
  try {
    host(etcd.ns, etcd.ip, 0);
    apiservers.forEach((a, i) => host(a.ns, a.ip, i + 1));
    host(nodeNs, nodeIp, 9);
  } catch (err) {
    await stop();
    throw err;
  }

  const etcdArgs = [
    '--name', 'etcd', '--data-dir', join(dir, 'etcd-data'),
    '--listen-client-urls', `http://${etcd.ip}:2379`, '--advertise-client-urls', `http://${etcd.ip}:2379`,
    '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
    '--initial-cluster', 'etcd=http://127.0.0.1:2380', '--log-level', 'warn',
    '--quota-backend-bytes', String(512 * 1024 * 1024),
    ...(options.etcdProgressNotify ? [`--watch-progress-notify-interval=${options.etcdProgressNotify}`] : []),
  ];
  const startEtcd = async (): Promise<void> => {
    etcd.proc = spawnIn(etcd.ns, undefined, bins.etcd, etcdArgs, join(dir, 'etcd.log'));
    procs.push(etcd.proc);
    for (let i = 0; i < 100; i++) {
      const r = await run('ip', ['netns', 'exec', etcd.ns, 'curl', '-s', '-m', '1', `http://${etcd.ip}:2379/health`], 3_000);
      if (r.stdout.includes('"health":"true"')) return;
      if (etcd.proc.child.exitCode !== null) break;
      await sleep(200);
    }
    throw new Error(`etcd did not become healthy:\n${tailOf(join(dir, 'etcd.log'))}`);
  };

  const apiserverArgs = (a: Apiserver, extra: readonly string[]): string[] => [
    `--etcd-servers=http://${etcd.ip}:2379`,
    `--bind-address=${a.ip}`, `--advertise-address=${a.ip}`, `--secure-port=${a.port}`,
    `--tls-cert-file=${join(dir, 'apiserver.crt')}`, `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
    `--client-ca-file=${creds.caFile}`, `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(dir, 'sa.pub')}`, `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=Node,RBAC', `--anonymous-auth=${options.anonymousAuth}`,
    `--endpoint-reconciler-type=${options.reconciler}`,
    ...(options.reconciler === 'master-count' ? [`--apiserver-count=${options.apiserverCount}`] : []),
    `--shutdown-delay-duration=${options.shutdownDelay}`,
    `--cert-dir=${join(dir, `cert-${a.index}`)}`,
    '--profiling=false', '--v=1',
    ...extra,
  ];
  const curlReadyz = (a: Apiserver) =>
    run('ip', ['netns', 'exec', nodeNs, 'curl', '-s', '-m', '3', '-o', '/dev/null', '-w', '%{http_code}',
      '--cacert', creds.caFile, '--resolve', `kubernetes:${a.port}:${a.ip}`,
      '-H', `Authorization: Bearer ${creds.adminToken}`, `https://kubernetes:${a.port}/readyz`], 5_000);
  const waitReady = async (i: number, ms = 180_000): Promise<void> => {
    const a = apiservers[i]!;
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if ((await curlReadyz(a)).stdout === '200') return;
      if (a.proc && a.proc.child.exitCode !== null) break;
      await sleep(500);
    }
    throw new Error(`${a.name} did not become ready:\n${tailOf(join(dir, `${a.name}.log`))}`);
  };
  const startApiserver = async (i: number, extra: readonly string[] = []): Promise<void> => {
    const a = apiservers[i]!;
    a.proc = spawnIn(a.ns, a.name, bins['kube-apiserver'], apiserverArgs(a, extra), join(dir, `${a.name}.log`));
    procs.push(a.proc);
  };
  const kubeconfig: RealCluster['kubeconfig'] = (name, server, auth) => {
    const user = 'token' in auth
      ? `    token: ${auth.token}`
      : 'certAndKey' in auth
        ? `    client-certificate: ${auth.certAndKey}\n    client-key: ${auth.certAndKey}`
        : `    client-certificate: ${auth.cert}\n    client-key: ${auth.key}`;
    const path = join(dir, `${name}.kubeconfig`);
    writeFileSync(path, [
      'apiVersion: v1', 'kind: Config',
      'clusters:', '- name: c', '  cluster:', `    server: ${server}`, `    certificate-authority: ${creds.caFile}`,
      '    tls-server-name: kubernetes',
      'users:', '- name: u', '  user:', user,
      'contexts:', '- name: c', '  context: {cluster: c, user: u}', 'current-context: c', '',
    ].join('\n'), { mode: 0o600 });
    return path;
  };
  const adminKc = kubeconfig('admin-direct', `https://${apiservers[0]!.address}`, { token: creds.adminToken });

  const nsOf = (i: number) => apiservers[i]!.ns;
  const cluster: RealCluster = {
    options,
    id,
    dir,
    creds,
    etcd,
    apiservers,
    nodeNs,
    nodeIp,
    nodeSpawn: (cmd, args, env) => spawn('ip', ['netns', 'exec', nodeNs, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env }),
    nodeRun: (cmd, args, timeoutMs = 20_000) => run('ip', ['netns', 'exec', nodeNs, cmd, ...args], timeoutMs),
    adminKubectl: (args, input) => {
      // Straight to the first apiserver that is running.
      const up = apiservers.find((a) => a.proc && a.proc.child.exitCode === null && a.proc.child.signalCode === null) ?? apiservers[0]!;
      return run('ip', ['netns', 'exec', nodeNs, 'kubectl', '--kubeconfig', adminKc, '--server', `https://${up.address}`, '--request-timeout=10s', ...args], 20_000, input);
    },
    kubeconfig,
    startApiserver,
    waitReady,
    signal: (i, sig) => {
      const p = apiservers[i]!.proc;
      if (p?.child.pid) process.kill(p.child.pid, sig);
    },
    partition: (i) =>
      nft(nodeNs, `table inet krc_part${i} {\n chain out { type filter hook output priority 0; ip daddr ${apiservers[i]!.ip} drop; }\n` +
        ` chain in { type filter hook input priority 0; ip saddr ${apiservers[i]!.ip} drop; }\n}\n`),
    heal: (i) => nft(nodeNs, `delete table inet krc_part${i}\n`),
    cutFromEtcd: (i) =>
      nft(nsOf(i), `table inet krc_etcd {\n chain out { type filter hook output priority 0; ip daddr ${etcd.ip} drop; }\n` +
        ` chain in { type filter hook input priority 0; ip saddr ${etcd.ip} drop; }\n}\n`),
    reconnectEtcd: (i) => nft(nsOf(i), 'delete table inet krc_etcd\n'),
    stopEtcd: async () => {
      etcd.proc?.child.kill('SIGKILL');
      await etcd.proc?.exit;
    },
    startEtcd,
    tail: (what, lines = 40) => tailOf(join(dir, what === 'etcd' ? 'etcd.log' : `${apiservers[what]!.name}.log`), lines),
    stop,
  };
  try {
    await startEtcd();
    for (let i = 0; i < apiservers.length; i++) await startApiserver(i);
    for (let i = 0; i < apiservers.length; i++) await waitReady(i);
  } catch (err) {
    await stop();
    throw err;
  }
  return cluster;
}

function tailOf(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts the cluster for one test file and stops it after the file's tests. */
export async function sharedCluster(t: { after: TestContext['after'] } | undefined, bins: RealClusterBinaries, opts: RealClusterOptions): Promise<RealCluster> {
  const c = await startRealCluster(bins, opts);
  t?.after(() => c.stop());
  return c;
}
