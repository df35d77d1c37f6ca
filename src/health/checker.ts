import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { HealthConfig } from '../config/schema.js';
import { VERSION } from '../version.js';
import { CredentialError, type ProbeCredentials } from './credentials.js';
import { type Reason, reasonOfAnswer, reasonOfError } from './verdict.js';

export interface CheckTarget {
  readonly address: string;
  readonly host: string;
  readonly port: number;
}

export interface CheckResult {
  reason: Reason;
  /** HTTP status when the backend answered. */
  status: number | undefined;
  at: number;
  durationMs: number;
}

/** What the owner decides after each result: when to check again. */
export type NextCheck = 'interval' | 'soon' | 'now';

export interface CheckerOptions {
  target: CheckTarget;
  settings: () => HealthConfig;
  /** The credential of the next check; re-read by its source when its files change. */
  credentials: () => Promise<ProbeCredentials>;
  onResult: (result: CheckResult) => NextCheck;
  /** A credential could not be loaded: the check goes on without it (anonymous). */
  onCredentialError: (err: CredentialError) => void;
  /**
   * A check round threw (a bug, or a credential source failing in a way it does not describe):
   * the round is over, and the next one runs an interval later.
   */
  onError: (err: unknown) => void;
  random?: () => number;
  now?: () => number;
}

// Bodies of health endpoints are "ok" or a short verbose list; more is read and dropped.
const MAX_BODY = 4096;
// The least time between two checks of one backend, whatever asks for them.
const MIN_GAP_MS = 50;

/**
 * Actively checks one backend: GET the health path over one keep-alive connection, so a check
 * costs a request, not a TLS handshake (at 5,000 nodes x 3 apiservers every 2 s that is the
 * difference between 2,500 requests/s and 2,500 handshakes/s per apiserver). Each backend has its
 * own Checker and timer: a blackholed backend never delays another's check.
 */
export class Checker {
  #timer: NodeJS.Timeout | undefined;
  /** A round (one probe, maybe a liveness ping beside it) is under way. */
  #busy = false;
  readonly #requests = new Set<http.ClientRequest>();
  #again = false;
  #stopped = false;
  #agent: http.Agent | undefined;
  #agentKey = '';
  #lastStart = 0;
  readonly #random: () => number;
  readonly #now: () => number;

  constructor(private readonly o: CheckerOptions) {
    this.#random = o.random ?? Math.random;
    this.#now = o.now ?? Date.now;
  }

  /** The first check runs at once: a fresh process decides within one timeout. */
  start(): void {
    this.#schedule(0);
  }

  /** Check as soon as possible (a session just failed to reach the backend). */
  checkNow(): void {
    if (this.#stopped) return;
    if (this.#busy) {
      // The answer in flight may predate the failure: check once more right after it.
      this.#again = true;
      return;
    }
    this.#schedule(Math.max(0, this.#lastStart + MIN_GAP_MS - this.#now()));
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const req of this.#requests) req.destroy();
    this.#requests.clear();
    this.#agent?.destroy();
    this.#agent = undefined;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#run().catch((err: unknown) => this.#failed(err));
    }, delayMs);
  }

  /** A round threw: without this the checker would stay busy, and never check again. */
  #failed(err: unknown): void {
    this.#busy = false;
    if (this.#stopped) return;
    this.o.onError(err);
    this.#schedule(this.#jittered(this.o.settings().intervalMs));
  }

  #jittered(intervalMs: number): number {
    // ±20%: 5,000 nodes restarted together spread their checks over the interval.
    return Math.round(intervalMs * (0.8 + 0.4 * this.#random()));
  }

  async #run(): Promise<void> {
    if (this.#stopped || this.#busy) return;
    this.#busy = true;
    this.#lastStart = this.#now();
    this.#again = false;
    const settings = this.o.settings();
    let creds: ProbeCredentials | undefined;
    try {
      creds = await this.o.credentials();
    } catch (err) {
      if (!(err instanceof CredentialError)) throw err;
      this.o.onCredentialError(err);
    }
    if (this.#stopped) return;
    const main = this.#probe(settings, settings.path, creds, this.#agentFor(settings, creds), true);
    // Half a timeout of silence: a liveness ping on a fresh connection tells a slow apiserver
    // from a silent one, and its silence confirms the check's half a timeout sooner.
    let ping: Promise<CheckResult> | undefined;
    const pingTimer = setTimeout(() => {
      if (!this.#stopped) ping = this.#probe(settings, pingPath(settings.path), creds, false, false);
    }, Math.round(settings.timeoutMs / 2));
    const first = await main;
    clearTimeout(pingTimer);
    if (this.#stopped) return;
    let next: NextCheck;
    if (!ping || !isSilent(first.reason)) {
      next = this.o.onResult(first);
    } else {
      const second = await ping;
      if (this.#stopped) return;
      if (!isSilent(second.reason) && second.status !== undefined) {
        // The health endpoint kept us waiting while the apiserver answers on a fresh connection:
        // it is alive and not ready (an etcd outage makes /readyz take 2-4 s, then 500).
        next = this.o.onResult({ ...first, reason: 'slow', status: undefined });
      } else {
        // Silent twice, on the kept-alive connection and on a fresh one: two verdicts.
        this.o.onResult(first);
        next = this.o.onResult(second);
      }
    }
    this.#busy = false;
    if (this.#again || next === 'now') this.#schedule(Math.max(0, this.#lastStart + MIN_GAP_MS - this.#now()));
    else if (next === 'soon') this.#schedule(Math.max(MIN_GAP_MS, Math.round(settings.intervalMs / 4)));
    else this.#schedule(this.#jittered(settings.intervalMs));
  }

  #agentFor(settings: HealthConfig, creds: ProbeCredentials | undefined): http.Agent {
    const key = `${settings.scheme}|${settings.tlsServerName}|${settings.insecureSkipVerify}|${creds?.generation ?? '-'}`;
    if (this.#agent && key === this.#agentKey) return this.#agent;
    this.#agent?.destroy();
    const common = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1, scheduling: 'lifo' as const };
    this.#agent =
      settings.scheme === 'http'
        ? new http.Agent(common)
        : new https.Agent({
            ...common,
            ca: creds?.ca,
            cert: creds?.cert,
            key: creds?.key,
            servername: settings.tlsServerName,
            rejectUnauthorized: !settings.insecureSkipVerify,
          });
    this.#agentKey = key;
    return this.#agent;
  }

  /**
   * One GET of the health path. `agent` false: a one-off connection (the liveness ping), with the same
   * TLS settings as the kept-alive one.
   */
  #probe(settings: HealthConfig, path: string, creds: ProbeCredentials | undefined, agent: http.Agent | false, mayRetry: boolean): Promise<CheckResult> {
    const started = this.#now();
    const startedMs = performance.now();
    const { host, port } = this.o.target;
    return new Promise<CheckResult>((resolve) => {
      let done = false;
      let connected = false;
      const finish = (reason: Reason, status: number | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#requests.delete(req);
        resolve({ reason, status, at: started, durationMs: performance.now() - startedMs });
      };
      const options: https.RequestOptions = {
        host,
        port,
        path,
        method: 'GET',
        agent,
        headers: { 'user-agent': `kube-local-lb/${VERSION}`, accept: 'text/plain', ...creds?.headers },
        servername: settings.tlsServerName,
        ...(agent === false
          ? { ca: creds?.ca, cert: creds?.cert, key: creds?.key, rejectUnauthorized: !settings.insecureSkipVerify }
          : {}),
      };
      const req = (settings.scheme === 'http' ? http : https).request(options);
      this.#requests.add(req);
      const timer = setTimeout(() => {
        finish(connected ? 'timeout' : 'connect_timeout', undefined);
        // Destroying the socket too: a connection that stopped answering is not reused.
        req.destroy();
      }, settings.timeoutMs);
      req.on('socket', (socket: Socket) => {
        if (!socket.connecting) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      req.on('error', (err) => {
        if (done) return;
        // A kept-alive connection the backend closed while idle fails at once on reuse; that
        // says nothing about the backend, so one fresh connection gets to decide.
        if (mayRetry && req.reusedSocket && reasonOfError(err) === 'reset') {
          done = true;
          clearTimeout(timer);
          this.#requests.delete(req);
          void this.#probe(settings, path, creds, agent, false).then(resolve);
          return;
        }
        finish(reasonOfError(err), undefined);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_BODY) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => finish(reasonOfAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')), res.statusCode));
        res.on('error', (err) => finish(reasonOfError(err), undefined));
      });
      req.end();
    });
  }
}

/** No answer at all: nothing came back on a connection, or none could be made in time. */
function isSilent(reason: Reason): boolean {
  return reason === 'timeout' || reason === 'connect_timeout';
}

/**
 * The liveness subpath of a health path (`/readyz` -> `/readyz/ping`): every apiserver health
 * root has a `ping` check that answers at once, whatever etcd or shutdown are doing.
 */
export function pingPath(path: string): string {
  const q = path.indexOf('?');
  const base = q < 0 ? path : path.slice(0, q);
  return `${base.replace(/\/+$/, '')}/ping`;
}
