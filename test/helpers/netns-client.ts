import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { createInterface } from 'node:readline';
import { type LbProcess, startRun } from './lb-process.js';
import type { NetnsHost } from './netns.js';

const CLIENT = fileURLToPath(new URL('./ns-client.js', import.meta.url));

export interface NsSession {
  /** Who answered the first GET. */
  name: string;
  /** One more GET on the session: the name of the apiserver that answered. */
  ask(): Promise<string>;
  /** Resolves with the time (epoch ms) the session closed. */
  closed: Promise<number>;
  destroy(): Promise<void>;
}

/** TLS clients of the proxy in the node namespace of `host` (ns-client.ts), trusting `caFile`. */
export interface NsClient {
  /** One GET /livez on a fresh connection: the name of the apiserver that answered. */
  livez(port: number, host?: string): Promise<string>;
  /** A kept-alive session, asked once. */
  open(port: number, host?: string): Promise<NsSession>;
}

export function startNsClient(t: Pick<TestContext, 'after'>, host: NetnsHost, caFile: string): NsClient {
  const child = host.nodeSpawn(process.execPath, [CLIENT, caFile]);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  t.after(async () => {
    child.stdin?.end();
    child.kill('SIGKILL');
    await exit;
  });
  const pending = new Map<number, (r: Record<string, unknown>) => void>();
  const closedAt = new Map<number, (at: number) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const r = JSON.parse(line) as Record<string, unknown>;
    if (r['event'] === 'closed') closedAt.get(Number(r['session']))?.(Number(r['at']));
    else pending.get(Number(r['id']))?.(r);
  });
  let next = 1;
  const call = (cmd: Record<string, unknown>): Promise<{ id: number; name?: string }> => {
    const id = next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(cmd)} within 30 s; client stderr: ${stderr}`)), 30_000);
      pending.set(id, (r) => {
        clearTimeout(timer);
        pending.delete(id);
        if (typeof r['error'] === 'string') reject(new Error(r['error']));
        else resolve(r as { id: number; name?: string });
      });
      child.stdin?.write(`${JSON.stringify({ id, ...cmd })}\n`);
    });
  };
  return {
    livez: async (port, h = '127.0.0.1') => String((await call({ op: 'livez', host: h, port })).name),
    open: async (port, h = '127.0.0.1') => {
      const closed = new Promise<number>((resolve) => closedAt.set(next, resolve));
      const first = await call({ op: 'open', host: h, port });
      return {
        name: String(first.name),
        ask: async () => String((await call({ op: 'ask', session: first.id })).name),
        closed,
        destroy: async () => void (await call({ op: 'destroy', session: first.id })),
      };
    },
  };
}

/**
 * kube-local-lb (`run`) in the node namespace of `host`, listening on 127.0.0.1 (port picked
 * there), its admin endpoint on 127.0.0.1 too, checks over HTTPS trusting `caFile`, no slow
 * start; `args` adds backends and check timings.
 */
export function startNodeProxy(t: TestContext, host: NetnsHost, caFile: string, args: readonly string[]): Promise<LbProcess> {
  return startRun(t, ['--admin-listen', '127.0.0.1:0', '--health-scheme', 'https', '--health-ca-file', caFile,
    // Ejects at once, as the in-process tests' config does: these tests bound the detection.
    '--slow-start', '0', '--eject-spread', '0s', '--log-level', 'info', ...(args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0']), ...args], { netns: host.node });
}

/** One backend as the admin endpoint's `/backends` shows it. */
export interface BackendDoc {
  address: string;
  state: string;
  lastCheck: { reason: string; durationMs: number } | null;
}

export async function backendDoc(lb: LbProcess, address: string): Promise<BackendDoc> {
  const body = JSON.parse(await lb.adminGet('/backends')) as BackendDoc[] | { backends: BackendDoc[] };
  const found = (Array.isArray(body) ? body : body.backends).find((b) => b.address === address);
  if (!found) throw new Error(`${address} is not in /backends`);
  return found;
}
