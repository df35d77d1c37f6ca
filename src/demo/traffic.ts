import type { ClientRequest } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { HostPort } from '../config/schema.js';
import { IDENTITY_HEADER } from './apiserver.js';
import { SERVER_NAME, type DemoPki } from './pki.js';

/** What one kind of client saw: answers per apiserver, requests cut, and other failures. */
export interface ClientStats {
  readonly answeredBy: Map<string, number>;
  /** Requests cut because their session was reset or closed under them (an eject, a kill). */
  cut: number;
  /** Cut requests whose immediate redial was answered by another apiserver. */
  redialledElsewhere: number;
  /** Cut requests whose redial has not ended yet. */
  redialling: number;
  /** Real failures: timeouts, non-200 answers, a new connection that got no answer. */
  failed: number;
  lastFailure: { at: number; message: string } | undefined;
}

/** What the demo's clients saw, and the replays the proxy logged. */
export interface TrafficStats {
  /** The kubelet-like clients: one kept-alive connection each. */
  readonly keptAlive: ClientStats;
  /** The kubectl-like client: a new connection for every request. */
  readonly newConnections: ClientStats;
  /** `session_replayed` records of the proxy, by reason. */
  readonly replays: Map<string, number>;
  /** Answers of both kinds per apiserver. */
  readonly answeredBy: Map<string, number>;
}

/** A redial of a cut request ended: answered by another apiserver than the cut session's, or not. */
function redialEnded(stats: ClientStats, cutFrom: { from: string | undefined }, outcome: Outcome): void {
  stats.redialling -= 1;
  if (outcome.kind === 'answered' && outcome.by !== cutFrom.from) stats.redialledElsewhere += 1;
}

function clientStats(): ClientStats {
  return { answeredBy: new Map(), cut: 0, redialledElsewhere: 0, redialling: 0, failed: 0, lastFailure: undefined };
}

// One request a second per kubelet-like client: enough to see every session move, little enough to read.
const PERIOD_MS = 1000;
// The kubectl-like client: every half second, three requests at once, each on a new connection
// (three kubectl runs). Least-conn spreads three at once over three evenly loaded apiservers, so
// a blackholed one gets its share before the checks find it.
const NEW_CONNECTION_PERIOD_MS = 500;
const NEW_CONNECTION_BURST = 3;
const NEW_CONNECTION_START_MS = 2000;
// A request cut by an eject fails at once; this bounds one that nothing answers at all.
const REQUEST_TIMEOUT_MS = 5000;

type Outcome =
  | { kind: 'answered'; by: string }
  | { kind: 'cut'; message: string; from: string | undefined }
  | { kind: 'failed'; message: string };

/** Errors that mean the session under the request was reset or closed. */
const CUT_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * The demo's clients. Some behave like kubelets: each keeps one kept-alive connection through the
 * proxy (one session) and lists pods once a second over it; when its apiserver goes away the
 * proxy resets the session, a request in flight is cut, and the client redials at once and lands
 * elsewhere. One behaves like kubectl runs: every request on a new connection (keepAlive false),
 * so new sessions arrive all the time and a silent apiserver's are replayed by the proxy.
 */
export class Traffic {
  readonly stats: TrafficStats = {
    keptAlive: clientStats(),
    newConnections: clientStats(),
    replays: new Map(),
    answeredBy: new Map(),
  };
  readonly #agents: https.Agent[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #requests = new Set<ClientRequest>();
  /** Which apiserver answered last over a kept-alive connection: where its session is. */
  readonly #answeredOver = new WeakMap<Socket, string>();
  #stopped = false;

  constructor(private readonly o: { proxy: HostPort; pki: DemoPki; clients: number }) {
    for (let i = 0; i < o.clients; i++) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      this.#agents.push(agent);
      this.#keptAliveLoop(agent, undefined);
    }
    // Once the kubelet-like clients have their sessions (so that those spread evenly) and the
    // first checks are done: its handshakes do not compete with them on a busy machine.
    this.#after(NEW_CONNECTION_START_MS, () => this.#newConnectionLoop());
  }

  /** The proxy logged a record: replays are counted here, beside what the clients saw. */
  onRecord(record: Readonly<Record<string, unknown>>): void {
    if (record['event'] !== 'session_replayed') return;
    const reason = typeof record['reason'] === 'string' ? record['reason'] : 'unknown';
    this.stats.replays.set(reason, (this.stats.replays.get(reason) ?? 0) + 1);
  }

  /** `cutFrom`: this request redials a cut one, whose session was on that apiserver. */
  #keptAliveLoop(agent: https.Agent, cutFrom: { from: string | undefined } | undefined): void {
    const started = Date.now();
    this.#request(agent, (outcome) => {
      const stats = this.stats.keptAlive;
      this.#count(stats, outcome);
      if (cutFrom) redialEnded(stats, cutFrom, outcome);
      // A cut request is sent again at once, as client-go does after a reset; the redial lands
      // on another apiserver.
      if (outcome.kind === 'cut') this.#after(0, () => this.#keptAliveLoop(agent, { from: outcome.from }));
      else this.#after(Math.max(0, started + PERIOD_MS - Date.now()), () => this.#keptAliveLoop(agent, undefined));
    });
  }

  #newConnectionLoop(): void {
    const started = Date.now();
    let left = NEW_CONNECTION_BURST;
    for (let i = 0; i < NEW_CONNECTION_BURST; i++) {
      this.#newConnectionRequest(undefined, () => {
        left -= 1;
        if (left === 0) this.#after(Math.max(0, started + NEW_CONNECTION_PERIOD_MS - Date.now()), () => this.#newConnectionLoop());
      });
    }
  }

  /**
   * One kubectl-like request on a new connection. Cut (its session reset after the handshake,
   * before the answer: an eject, a kill), it is sent again at once on another new connection, as
   * client-go does for a GET after a reset; `finished` runs once the last try has ended.
   */
  #newConnectionRequest(cutFrom: { from: string | undefined } | undefined, finished: () => void): void {
    this.#request(false, (outcome) => {
      const stats = this.stats.newConnections;
      this.#count(stats, outcome);
      if (cutFrom) redialEnded(stats, cutFrom, outcome);
      if (outcome.kind === 'cut') this.#after(0, () => this.#newConnectionRequest({ from: outcome.from }, finished));
      else finished();
    });
  }

  #count(stats: ClientStats, outcome: Outcome): void {
    if (this.#stopped) return;
    switch (outcome.kind) {
      case 'answered':
        stats.answeredBy.set(outcome.by, (stats.answeredBy.get(outcome.by) ?? 0) + 1);
        this.stats.answeredBy.set(outcome.by, (this.stats.answeredBy.get(outcome.by) ?? 0) + 1);
        return;
      case 'cut':
        stats.cut += 1;
        stats.redialling += 1;
        return;
      case 'failed':
        stats.failed += 1;
        stats.lastFailure = { at: Date.now(), message: outcome.message };
        return;
    }
  }

  /**
   * One GET of the pods through the proxy. A request on a kept-alive connection, or on a new one
   * whose TLS handshake with an apiserver completed, that is reset or closed before its answer,
   * or any answer cut short, is `cut`: its session went away under it. A new connection that
   * gets no answer and had no session (no handshake) is a failure: the proxy did not get it
   * served.
   */
  #request(agent: https.Agent | false, done: (outcome: Outcome) => void): void {
    if (this.#stopped) return;
    // An answer cut short can end in both 'end' and 'error': the outcome is taken once.
    let settled = false;
    let answeringName: string | undefined;
    // The handshake is end to end: once it completed, an apiserver holds this session.
    let handshaken = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      done(outcome);
    };
    const broken = (message: string, code?: string): void => {
      const socket = req.socket;
      const from = answeringName ?? (socket ? this.#answeredOver.get(socket) : undefined);
      const underIt = answeringName !== undefined || req.reusedSocket || handshaken;
      if (underIt && (code === undefined || CUT_CODES.has(code))) settle({ kind: 'cut', message, from });
      else settle({ kind: 'failed', message });
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
      const by = res.headers[IDENTITY_HEADER.toLowerCase()];
      const name = typeof by === 'string' ? by : 'unknown';
      answeringName = name;
      // Taken now: by 'end' a kept-alive socket may be back in the agent and off the answer.
      const socket = res.socket as Socket | null;
      res.resume();
      res.on('close', () => {
        if (!res.complete) broken('connection closed during the answer');
      });
      res.on('error', (err: NodeJS.ErrnoException) => broken(err.code ?? err.message, err.code));
      res.on('end', () => {
        if (agent !== false && socket) this.#answeredOver.set(socket, name);
        if (res.statusCode === 200) settle({ kind: 'answered', by: name });
        else settle({ kind: 'failed', message: `${name} answered ${res.statusCode ?? '?'}` });
      });
    });
    this.#requests.add(req);
    req.once('socket', (socket) => socket.once('secureConnect', () => (handshaken = true)));
    let timedOut = false;
    req.on('timeout', () => {
      timedOut = true;
      req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (timedOut) settle({ kind: 'failed', message: err.message });
      else broken(err.code ?? err.message, err.code ?? 'unknown');
    });
    req.on('close', () => {
      this.#requests.delete(req);
      if (answeringName === undefined) broken('connection closed before an answer');
    });
  }

  #after(ms: number, then: () => void): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) then();
    }, ms);
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
