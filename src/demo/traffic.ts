import type { ClientRequest } from 'node:http';
import https from 'node:https';
import type { HostPort } from '../config/schema.js';
import { IDENTITY_HEADER } from './apiserver.js';
import { SERVER_NAME, type DemoPki } from './pki.js';

/** What the demo's clients saw: answers per apiserver, and failures. */
export interface TrafficStats {
  readonly answeredBy: Map<string, number>;
  failed: number;
  lastFailure: { at: number; message: string } | undefined;
}

// One request a second per client: enough to see every session move, little enough to read.
const PERIOD_MS = 1000;
// A request cut by an eject fails at once; this bounds one that nothing answers at all.
const REQUEST_TIMEOUT_MS = 5000;

/**
 * A few clients that behave like kubelets: each keeps one kept-alive connection through the proxy
 * (one session) and lists pods once a second over it. When its apiserver goes away the proxy
 * closes the session, and the next request dials again and lands elsewhere: the table shows the
 * sessions move and the counts shift.
 */
export class Traffic {
  readonly stats: TrafficStats = { answeredBy: new Map(), failed: 0, lastFailure: undefined };
  readonly #agents: https.Agent[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #requests = new Set<ClientRequest>();
  #stopped = false;

  constructor(private readonly o: { proxy: HostPort; pki: DemoPki; clients: number }) {
    for (let i = 0; i < o.clients; i++) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      this.#agents.push(agent);
      this.#loop(agent);
    }
  }

  #loop(agent: https.Agent): void {
    if (this.#stopped) return;
    const started = Date.now();
    // An answer cut short can end in both 'end' and 'error': the next request is scheduled once.
    let settled = false;
    let responded = false;
    const settle = (failure: string | undefined, answeredBy?: string): void => {
      if (settled) return;
      settled = true;
      if (failure !== undefined) this.#fail(failure);
      else if (answeredBy !== undefined) this.stats.answeredBy.set(answeredBy, (this.stats.answeredBy.get(answeredBy) ?? 0) + 1);
      this.#next(agent, started);
    };
    const req = https.get({
      host: this.o.proxy.host,
      port: this.o.proxy.port,
      path: '/api/v1/namespaces/default/pods',
      agent,
      // What the demo kubeconfig says: the cluster CA, and the name the certificate holds.
      servername: SERVER_NAME,
      ca: this.o.pki.ca.certPem,
      cert: this.o.pki.admin.certPem,
      key: this.o.pki.admin.keyPem,
      timeout: REQUEST_TIMEOUT_MS,
    }, (res) => {
      responded = true;
      res.resume();
      res.on('close', () => {
        if (!res.complete) settle('connection closed during the answer');
      });
      res.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
      res.on('end', () => {
        const by = res.headers[IDENTITY_HEADER.toLowerCase()];
        const name = typeof by === 'string' ? by : 'unknown';
        if (res.statusCode === 200) settle(undefined, name);
        else settle(`${name} answered ${res.statusCode ?? '?'}`);
      });
    });
    this.#requests.add(req);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
    req.on('close', () => {
      this.#requests.delete(req);
      if (!responded) settle('connection closed before an answer');
    });
  }

  #fail(message: string): void {
    if (this.#stopped) return;
    this.stats.failed += 1;
    this.stats.lastFailure = { at: Date.now(), message };
  }

  #next(agent: https.Agent, started: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#loop(agent);
    }, Math.max(0, started + PERIOD_MS - Date.now()));
    this.#timers.add(timer);
  }

  /** Stops every client and closes its connection. Idempotent. */
  close(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const req of this.#requests) req.destroy();
    for (const agent of this.#agents) agent.destroy();
  }
}
