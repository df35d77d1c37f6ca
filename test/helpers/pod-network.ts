import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeClusterPki, type ClusterPki } from '../fake-apiserver/cluster-pki.js';

/**
 * A node and a pod, each a network namespace the test makes and removes: the "node" holds
 * three apiserver addresses on its `lo` (two fake apiservers listen, the third is dead: connects
 * are refused), the "pod" reaches the node over a veth and routes everything through it, as a
 * CNI would. kube-proxy's DNAT of the `kubernetes` ClusterIP is imitated with real iptables
 * rules (its iptables mode) or a real nftables table (its nftables mode). Needs root.
 */

export const CLUSTER_IP = '10.96.0.1';
const APISERVER_PORT = 6443;

export interface ProbeOutcomes {
  ok: number;
  refused: number;
  timeout: number;
  unreachable: number;
  other: number;
  answeredBy: Record<string, number>;
}

export interface PodNetwork {
  node: string;
  pod: string;
  podIp: string;
  nodeIp: string;
  /** The three apiserver addresses; the last has no apiserver. */
  apiservers: string[];
  pki: ClusterPki;
  /** Files: ca.crt, admin.crt, admin.key, pod.kubeconfig (server https://CLUSTER_IP:443). */
  file(name: string): string;
  /** Runs a command in the node namespace; its stdout. Throws on failure. */
  inNode(cmd: string, args: string[], input?: string): string;
  /** Spawns a command in a namespace. */
  spawnIn(where: 'node' | 'pod', cmd: string, args: string[]): ChildProcess;
  startApiservers(): Promise<void>;
  /** Sends a line command to both live apiservers (`add-pod default/x`). */
  tellApiservers(command: string): void;
  dnatIptables(): void;
  dnatNftables(): void;
  clearDnat(): void;
  setDefaultRoute(on: boolean): void;
  /** N HTTPS GET /livez from a namespace to CLUSTER_IP:443 (or `target`). */
  probe(from: 'node' | 'pod', count: number, timeoutMs?: number, target?: string): Promise<ProbeOutcomes>;
  /** The node namespace's nftables ruleset and addresses on lo: what "nothing changed" compares. */
  snapshot(): string;
  remove(): void;
}

const PROBE = fileURLToPath(new URL('./pod-probe.js', import.meta.url));
const FAKE = fileURLToPath(new URL('../fake-apiserver/cli.js', import.meta.url));

export interface PodNames {
  /** The namespace the pod hangs off, which exists. */
  node: string;
  /** The pod's namespace, made here (one left over by a killed run is replaced). */
  pod: string;
  /** The veth's ends: in the node and in the pod. */
  nodeIf: string;
  podIf: string;
  /** A /30: the node's end, the pod's end and the pod's default gateway. */
  nodeIp: string;
  podIp: string;
}

/**
 * A "pod": a network namespace behind a veth from `node`, routing everything through the node,
 * as a CNI would. Removing the pod's namespace removes the veth with it.
 */
export function addPod(names: PodNames): void {
  const { node, pod, nodeIf, podIf, nodeIp, podIp } = names;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    ip('netns', 'del', pod);
  } catch {
    // Not left over from an earlier run.
  }
  ip('netns', 'add', pod);
  ip('-n', node, 'link', 'add', nodeIf, 'type', 'veth', 'peer', 'name', podIf, 'netns', pod);
  ip('-n', pod, 'link', 'set', 'lo', 'up');
  ip('-n', node, 'addr', 'add', `${nodeIp}/30`, 'dev', nodeIf);
  ip('-n', pod, 'addr', 'add', `${podIp}/30`, 'dev', podIf);
  ip('-n', node, 'link', 'set', nodeIf, 'up');
  ip('-n', pod, 'link', 'set', podIf, 'up');
  ip('-n', pod, 'route', 'add', 'default', 'via', nodeIp);
}

/** N fresh HTTPS GET /livez from namespace `ns` to `target` (`HOST:PORT`), one after another (pod-probe.ts). */
export function probeFrom(ns: string, count: number, caFile: string, timeoutMs: number, target: string): Promise<ProbeOutcomes> {
  const [host = '', port = ''] = target.split(/:(?=\d+$)/);
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, PROBE, host, port, String(count), caFile, String(timeoutMs)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => child.once('exit', (code) => {
    if (code === 0) resolve(JSON.parse(out) as ProbeOutcomes);
    else reject(new Error(`probe from ${ns} exited ${code}: ${err}`));
  }));
}

export function makePodNetwork(index: number): PodNetwork {
  const id = `${process.pid % 10_000}${index}`;
  const node = `cipn${id}`;
  const pod = `cipp${id}`;
  const nodeIf = `cipa${id}`;
  const podIf = `cipb${id}`;
  const third = (process.pid + index) % 250;
  const nodeIp = `10.244.${third}.1`;
  const podIp = `10.244.${third}.2`;
  const apiservers = [11, 12, 13].map((last) => `10.245.${third}.${last}`);
  const dir = mkdtempSync(join(tmpdir(), 'cip-'));
  const file = (name: string) => join(dir, name);
  const pki = makeClusterPki();
  const children: ChildProcess[] = [];
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const inNs = (ns: string, cmd: string, args: string[], input?: string) =>
    execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    ip('netns', 'del', node);
  } catch {
    // Not left over from an earlier run.
  }
  ip('netns', 'add', node);
  ip('-n', node, 'link', 'set', 'lo', 'up');
  addPod({ node, pod, nodeIf, podIf, nodeIp, podIp });
  for (const address of apiservers) ip('-n', node, 'addr', 'add', `${address}/32`, 'dev', 'lo');

  writeFileSync(file('ca.crt'), pki.ca.certPem);
  writeFileSync(file('admin.crt'), pki.admin.certPem);
  writeFileSync(file('admin.key'), pki.admin.keyPem, { mode: 0o600 });
  writeFileSync(file('pod.kubeconfig'), [
    'apiVersion: v1', 'kind: Config', 'current-context: pod',
    'clusters:', '- name: in-cluster', '  cluster:', `    server: https://${CLUSTER_IP}:443`, `    certificate-authority: ${file('ca.crt')}`,
    'users:', '- name: admin', '  user:', `    client-certificate: ${file('admin.crt')}`, `    client-key: ${file('admin.key')}`,
    'contexts:', '- name: pod', '  context:', '    cluster: in-cluster', '    user: admin', '',
  ].join('\n'));

  const nftDnat = (): string => {
    const endpoints = apiservers.map((address, i) => `endpoint-${i}-default/kubernetes/tcp/https__${address}/${APISERVER_PORT}`);
    return [
      'table ip kube-proxy {',
      '  comment "rules for kube-proxy"',
      '  map service-ips {',
      '    type ipv4_addr . inet_proto . inet_service : verdict',
      '    comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"',
      `    elements = { ${CLUSTER_IP} . tcp . 443 : goto service-2QRHZV4L-default/kubernetes/tcp/https }`,
      '  }',
      '  chain nat-prerouting {', '    type nat hook prerouting priority dstnat; policy accept;', '    jump services', '  }',
      '  chain nat-output {', '    type nat hook output priority -100; policy accept;', '    jump services', '  }',
      '  chain services {', '    ip daddr . meta l4proto . th dport vmap @service-ips', '  }',
      '  chain service-2QRHZV4L-default/kubernetes/tcp/https {',
      `    numgen random mod 3 vmap { ${endpoints.map((chain, i) => `${i} : goto ${chain}`).join(', ')} }`,
      '  }',
      ...endpoints.flatMap((chain, i) => [`  chain ${chain} {`, `    meta l4proto tcp dnat to ${apiservers[i] ?? ''}:${APISERVER_PORT}`, '  }']),
      '}',
      '',
    ].join('\n');
  };

  const iptablesDnat = (): string => {
    const svc = 'KUBE-SVC-NPX46M4PTMTKRN6Y';
    const seps = apiservers.map((_, i) => `KUBE-SEP-TESTENDPOINT${i}AAA`);
    const probability = (i: number) => (1 / (apiservers.length - i)).toFixed(11);
    return [
      '*nat',
      ':KUBE-SERVICES - [0:0]', `:${svc} - [0:0]`, ...seps.map((sep) => `:${sep} - [0:0]`),
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      `-A KUBE-SERVICES -d ${CLUSTER_IP}/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j ${svc}`,
      ...seps.map((sep, i) => i < seps.length - 1
        ? `-A ${svc} -m comment --comment "default/kubernetes:https -> ${apiservers[i] ?? ''}:${APISERVER_PORT}" -m statistic --mode random --probability ${probability(i)} -j ${sep}`
        : `-A ${svc} -m comment --comment "default/kubernetes:https -> ${apiservers[i] ?? ''}:${APISERVER_PORT}" -j ${sep}`),
      ...seps.map((sep, i) => `-A ${sep} -p tcp -m comment --comment "default/kubernetes:https" -m tcp -j DNAT --to-destination ${apiservers[i] ?? ''}:${APISERVER_PORT}`),
      'COMMIT',
      '',
    ].join('\n');
  };

  const network: PodNetwork = {
    node, pod, podIp, nodeIp, apiservers, pki, file,
    inNode: (cmd, args, input) => inNs(node, cmd, args, input),
    spawnIn: (where, cmd, args) => spawn('ip', ['netns', 'exec', where === 'node' ? node : pod, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }),
    async startApiservers() {
      for (const [i, address] of apiservers.slice(0, 2).entries()) {
        const child = network.spawnIn('node', process.execPath, [FAKE, '--name', `apiserver-${i + 1}`, '--host', address, '--port', String(APISERVER_PORT),
          `--cert=${pki.tls.certPem}`, `--key=${pki.tls.keyPem}`, `--client-ca=${pki.ca.certPem}`, '--cluster-ip', CLUSTER_IP,
          // Apiservers that were already running: no start-up phase.
          '--startup', 'instant']);
        children.push(child);
        const stderr: string[] = [];
        child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
        await new Promise<void>((resolve, reject) => {
          createInterface({ input: child.stdout ?? process.stdin }).once('line', () => resolve());
          child.once('exit', (code) => reject(new Error(`fake apiserver ${address} exited (${code}): ${stderr.join('')}`)));
        });
      }
    },
    tellApiservers(command) {
      for (const child of children) child.stdin?.write(`${command}\n`);
    },
    dnatIptables: () => void inNs(node, 'iptables-restore', ['--noflush'], iptablesDnat()),
    dnatNftables: () => void inNs(node, 'nft', ['-f', '-'], nftDnat()),
    clearDnat() {
      inNs(node, 'sh', ['-c', 'iptables -t nat -F; iptables -t nat -X; nft delete table ip kube-proxy 2>/dev/null; true']);
    },
    setDefaultRoute(on) {
      inNs(node, 'ip', ['route', on ? 'replace' : 'del', 'default', 'via', podIp]);
    },
    probe: (from, count, timeoutMs = 2000, target = `${CLUSTER_IP}:443`) =>
      probeFrom(from === 'node' ? node : pod, count, file('ca.crt'), timeoutMs, target),
    snapshot: () => inNs(node, 'sh', ['-c', 'nft list ruleset; ip -4 -o addr show; ip -o link show']),
    remove() {
      for (const child of children) child.kill('SIGKILL');
      for (const ns of [node, pod]) {
        try {
          ip('netns', 'del', ns);
        } catch {
          // Already gone.
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return network;
}
