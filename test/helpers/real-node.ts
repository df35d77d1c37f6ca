import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MAIN } from '../cli-spawn.js';
import { jsonLines, type JsonLines, type LogFields } from './lb-process.js';
import { parseMetrics, value } from './prometheus.js';
import type { RealCluster } from './real-cluster.js';

/** What runs on the real cluster's node: kube-local-lb and its clients, in the node namespace. */

const WATCHER = fileURLToPath(new URL('./client-node-watch.js', import.meta.url));

export interface NodeProcess extends JsonLines {
  child: ChildProcess;
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function nodeProcess(c: RealCluster, cmd: string, args: readonly string[]): NodeProcess {
  const child = c.nodeSpawn(cmd, args);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-20_000)));
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const lines = jsonLines(child.stdout!, () => `stderr: ${stderr.slice(-2000)}`);
  return {
    child,
    ...lines,
    records: lines.records,
    stderr: () => stderr,
    stop: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exit;
    },
  };
}

export const LB_PORT = 6444;
export const ADMIN = '127.0.0.1:9445';

export interface NodeLb extends NodeProcess {
  /** One sample of kube-local-lb's /metrics (0 when absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** `/backends` of the admin endpoint. */
  backends(): Promise<{ address: string; state: string; [k: string]: unknown }[]>;
  /** Waits until `n` backends are up. */
  waitUp(n: number, ms?: number): Promise<void>;
}

/** Starts kube-local-lb in the node namespace on 127.0.0.1:6444 (the default on every node), with the cluster's CA. */
export async function startNodeLb(c: RealCluster, args: readonly string[]): Promise<NodeLb> {
  const p = nodeProcess(c, process.execPath, [MAIN, 'run', '--listen', `127.0.0.1:${LB_PORT}`, '--admin-listen', ADMIN,
    '--health-ca-file', c.creds.caFile, ...args]);
  await p.waitFor({ event: 'started' }, 20_000);
  const get = async (path: string): Promise<string> => {
    const r = await c.nodeRun('curl', ['-s', '-m', '5', `http://${ADMIN}${path}`]);
    return r.stdout;
  };
  const backends = async () => {
    const body = JSON.parse(await get('/backends')) as unknown;
    const list = Array.isArray(body) ? body : (body as { backends: unknown[] }).backends;
    return list as { address: string; state: string }[];
  };
  return {
    ...p,
    metric: async (name, labels = {}) => value(parseMetrics(await get('/metrics')), name, labels),
    backends,
    waitUp: async (n, ms = 30_000) => {
      const deadline = Date.now() + ms;
      let last: unknown;
      while (Date.now() < deadline) {
        last = await backends().catch((e: unknown) => String(e));
        if (Array.isArray(last) && last.filter((b: { state: string }) => b.state === 'up').length >= n) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`fewer than ${n} backends up within ${ms} ms: ${JSON.stringify(last)}\n` +
        p.records.slice(-15).map((r) => JSON.stringify(r)).join('\n'));
    },
  };
}

export interface KubeletSim extends NodeProcess {
  /** Asks for a summary line now (SIGUSR1) and returns it. */
  summary(): Promise<LogFields>;
}

/** kubelet-sim in the node namespace, through kube-local-lb. */
export async function startKubeletSim(c: RealCluster, bin: string, kubeconfig: string): Promise<KubeletSim> {
  const p = nodeProcess(c, bin, ['--kubeconfig', kubeconfig, '--node-name', c.creds.nodeName]);
  await p.waitFor({ event: 'renew', ok: true }, 30_000);
  return {
    ...p,
    summary: async () => {
      const from = p.records.length;
      p.child.kill('SIGUSR1');
      return p.waitFor({ event: 'summary' }, 5_000, from);
    },
  };
}

/** A @kubernetes/client-node watch of PATH in the node namespace, rewatching when it ends. */
export async function startClientNodeWatch(c: RealCluster, kubeconfig: string, path: string): Promise<NodeProcess> {
  const p = nodeProcess(c, process.execPath, [WATCHER, kubeconfig, path]);
  await p.waitFor({ event: 'watch-open' }, 20_000);
  return p;
}

/** kubectl through kube-local-lb with KUBECONFIG; resolves with its outcome. */
export function kubectl(c: RealCluster, kubeconfig: string, args: readonly string[], timeoutMs = 20_000) {
  return c.nodeRun('kubectl', ['--kubeconfig', kubeconfig, ...args], timeoutMs);
}

/** kubectl every `everyMs` until stopped: counts calls and failures (with their errors). */
export function kubectlLoop(c: RealCluster, kubeconfig: string, args: readonly string[], everyMs = 500) {
  const failures: string[] = [];
  let calls = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const began = Date.now();
      const r = await kubectl(c, kubeconfig, ['--request-timeout=10s', ...args], 15_000);
      calls++;
      if (r.code !== 0) failures.push(`${new Date().toISOString()} ${r.stderr.trim().slice(0, 300)}`);
      await new Promise((res) => setTimeout(res, Math.max(0, everyMs - (Date.now() - began))));
    }
  })();
  return {
    get calls() {
      return calls;
    },
    failures,
    stop: async () => {
      running = false;
      await done;
    },
  };
}
