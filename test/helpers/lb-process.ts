import { execFile, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { MAIN, cleanEnv } from '../cli-spawn.js';
import { parseMetrics, value } from './prometheus.js';

export type LogFields = { [key: string]: unknown };

/** A `kube-local-lb run` process: its JSON log records as they come, its addresses, its exit. */
export interface LbProcess {
  child: ChildProcess;
  records: LogFields[];
  stderr(): string;
  /** The `started` record's listen addresses, `HOST:PORT`. */
  listen: string[];
  /** The first listen port. */
  port: number;
  /** `http://HOST:PORT` of the admin endpoint, or '' when disabled. */
  admin: string;
  /** Resolves with the first record (past or future) having these fields; rejects after `ms`. */
  waitFor(fields: LogFields, ms?: number): Promise<LogFields>;
  /** The value of one sample of the admin endpoint's /metrics (0 when absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** The body of a GET of the admin endpoint's `path`. */
  adminGet(path: string): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** JSON log lines read from a stream as they come, and a bounded wait for one with given fields. */
export interface JsonLines {
  readonly records: LogFields[];
  /**
   * Resolves with the first record at index `from` or later (past or future) having these
   * fields; rejects after `ms` with the last records.
   */
  waitFor(fields: LogFields, ms?: number, from?: number): Promise<LogFields>;
}

export function jsonLines(stream: Readable, describe: () => string = () => ''): JsonLines {
  const records: LogFields[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) records.push(JSON.parse(line) as LogFields);
    for (const wake of [...waiters]) wake();
  });
  const matches = (record: LogFields, fields: LogFields): boolean => Object.entries(fields).every(([k, v]) => record[k] === v);
  return {
    records,
    waitFor: (fields, ms = 15_000, from = 0) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = records.slice(from).find((record) => matches(record, fields));
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no log record with ${JSON.stringify(fields)} within ${ms} ms; ${describe()}; last records:\n` +
            records.slice(-20).map((r) => JSON.stringify(r)).join('\n')));
        }, ms);
        waiters.add(check);
        check();
      }),
  };
}

/**
 * Spawns `node dist/main.js run ...args` and resolves once it logged `started`. The process is
 * killed (SIGKILL) in `t.after` if it is still running then, whatever the test's outcome. With
 * `netns` it runs inside that network namespace (`ip netns exec`, which execs node: the child's
 * PID is kube-local-lb's), and the admin endpoint is read from there too.
 */
export async function startRun(t: TestContext, args: readonly string[], opts: { netns?: string; wrap?: readonly string[] } = {}): Promise<LbProcess> {
  // `wrap`: a command that execs the rest (`ip netns exec NAME`), so signals still reach kube-local-lb.
  const wrap = opts.wrap ?? (opts.netns ? ['ip', 'netns', 'exec', opts.netns] : []);
  const [file = process.execPath, ...wrapArgs] = [...wrap, process.execPath];
  const child = spawn(file, [...wrapArgs, MAIN, 'run', ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const { records, waitFor } = jsonLines(child.stdout, () => `stderr: ${stderr}`);
  const started = await Promise.race([
    waitFor({ event: 'started' }),
    exit.then(({ code }) => Promise.reject(new Error(`kube-local-lb run exited ${code} before starting: ${stderr}`))),
  ]);
  const listen = started['listen'] as string[];
  const admin = typeof started['admin'] === 'string' ? `http://${started['admin']}` : '';
  const port = Number((listen[0] ?? '').split(':').pop());
  const adminGet = (path: string): Promise<string> => (opts.netns ? getBodyIn(opts.netns, `${admin}${path}`) : getBody(`${admin}${path}`));
  return {
    child,
    records,
    stderr: () => stderr,
    listen,
    port,
    admin,
    waitFor,
    exit,
    adminGet,
    metric: async (name, labels = {}) => value(parseMetrics(await adminGet('/metrics')), name, labels),
  };
}

/** GET `url` from inside network namespace `ns` (curl there). */
function getBodyIn(ns: string, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, 'curl', '-sS', '-m', '5', '--fail', url], { encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`GET ${url} in ${ns}: ${stderr.trim() || String(err)}`)) : resolve(stdout));
  });
}

function getBody(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** `promise`, or a rejection naming `what` after `ms`: a bounded wait on an event. */
export async function within<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
