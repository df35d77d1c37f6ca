import http from 'node:http';
import https from 'node:https';
import type { ProbeCredentials } from '../health/credentials.js';
import { REASONS, reasonOfError } from '../health/verdict.js';
import { VERSION } from '../version.js';
import { isObject } from '../json.js';

/**
 * The little of the Kubernetes API discovery needs: a GET of JSON and a WATCH of JSON lines
 * (reference §6), over one fresh connection each, straight to one backend, with the health
 * checks' credential and TLS verification (CA, server name).
 */

/** Every way a discovery request fails; the key is the `reason` label and log field. */
export const DISCOVERY_ERRORS = {
  unreachable: 'the backend could not be reached',
  timeout: 'no answer within the timeout',
  unauthorized: 'credential rejected (401): discovery needs an authenticated credential',
  forbidden: 'not allowed to list and watch endpointslices (or endpoints) in namespace default (403)',
  not_found: 'neither EndpointSlice nor Endpoints default/kubernetes is served (404)',
  http_status: 'unexpected HTTP status',
  bad_response: 'an answer that is not the expected JSON',
  watch_error: 'the watch ended with an ERROR event',
  backend_down: 'the backend in use went down or was removed',
  no_backend: 'no backend is eligible to ask',
  credential: 'the health-check credential cannot be loaded',
  empty: 'no ready endpoint listed: the last good list is kept',
  state_file: 'the state file cannot be written',
} as const;

export type DiscoveryErrorReason = keyof typeof DISCOVERY_ERRORS;

/** A failed request. `status` 410 means the resourceVersion is too old: relist, not an error. */
export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  constructor(
    readonly reason: DiscoveryErrorReason,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }

  get expired(): boolean {
    return this.status === 410;
  }
}

/** Where a request goes: one backend, dialled directly. */
export interface ApiTarget {
  readonly host: string;
  readonly port: number;
  readonly address: string;
}

/** How to connect: what the health checks use. */
export interface ApiConnection {
  scheme: 'https' | 'http';
  tlsServerName: string;
  insecureSkipVerify: boolean;
  credentials: ProbeCredentials | undefined;
  /** For a GET: until the whole body; for a WATCH: until the response head. */
  timeoutMs: number;
}

/** One line of a watch. */
export interface WatchEvent {
  type: string;
  object: unknown;
}

// The kubernetes Service's objects are a few hundred bytes per apiserver; far more is not them.
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** GET `path` and parse the JSON body of a 200; any other answer is a DiscoveryError. */
export function getJson(target: ApiTarget, path: string, c: ApiConnection, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = open(target, path, c);
    const settle = guard(req, c.timeoutMs, signal, reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) settle.fail(new DiscoveryError('bad_response', `${path}: answer larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return settle.fail(statusError(res.statusCode ?? 0, body, path));
        try {
          const parsed: unknown = JSON.parse(body);
          settle.done(() => resolve(parsed));
        } catch {
          settle.fail(new DiscoveryError('bad_response', `${path}: the answer is not JSON`));
        }
      });
      res.on('error', (err) => settle.fail(socketError(err)));
      // Closed before its end: cut. After 'end' this is a no-op.
      res.on('close', () => settle.fail(new DiscoveryError('unreachable', `${path}: the answer was cut: ${REASONS.reset.text}`)));
    });
    req.end();
  });
}

/**
 * WATCH `path` (it carries `watch=1`): `onEvent` gets each line as it comes and says whether to
 * go on (false ends the watch; a throw fails it). Resolves when the
 * server ends the response (its timeout: watch again from the last resourceVersion); rejects on
 * any other end. `idleMs`: the longest silence accepted (bookmarks and the server's own timeout
 * bound it), after which the connection is given up as dead.
 */
export function watchJsonLines(
  target: ApiTarget,
  path: string,
  c: ApiConnection,
  signal: AbortSignal,
  idleMs: number,
  onEvent: (event: WatchEvent) => boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = open(target, path, c);
    const settle = guard(req, c.timeoutMs, signal, reject);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk.slice(0, 4096)));
        res.on('end', () => settle.fail(statusError(res.statusCode ?? 0, body, path)));
        res.on('error', (err) => settle.fail(socketError(err)));
        return;
      }
      // The head is in: from now on only silence ends the watch early.
      settle.rearm(idleMs, `no event or bookmark for ${idleMs} ms`);
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        settle.rearm(idleMs, `no event or bookmark for ${idleMs} ms`);
        pending += chunk;
        if (pending.length > MAX_BODY_BYTES) return settle.fail(new DiscoveryError('bad_response', `${path}: a watch line longer than ${MAX_BODY_BYTES} bytes`));
        let end: number;
        while ((end = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, end).trim();
          pending = pending.slice(end + 1);
          if (line === '') continue;
          const event = parseEvent(line);
          if (!event) return settle.fail(new DiscoveryError('bad_response', `${path}: a watch line that is not an event`));
          if (settle.settled) return;
          let goOn: boolean;
          try {
            goOn = onEvent(event);
          } catch (err) {
            return settle.fail(err instanceof DiscoveryError ? err : new DiscoveryError('bad_response', String(err)));
          }
          if (!goOn) {
            // The caller has what it needs (an ERROR 410): this connection is of no further use.
            settle.done(resolve);
            req.destroy();
            return;
          }
        }
      });
      res.on('end', () => settle.done(resolve));
      // Closed without its end (a reset, a crash): an error. After 'end' this is a no-op.
      res.on('close', () => settle.fail(new DiscoveryError('unreachable', `${path}: the watch was cut: ${REASONS.reset.text}`)));
      res.on('error', (err) => settle.fail(socketError(err)));
    });
    req.end();
  });
}

function parseEvent(line: string): WatchEvent | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (isObject(value) && typeof value['type'] === 'string') return { type: value['type'], object: value['object'] };
  } catch {
    // Not JSON: reported by the caller as bad_response.
  }
  return undefined;
}

function open(target: ApiTarget, path: string, c: ApiConnection): http.ClientRequest {
  const creds = c.credentials;
  const options: https.RequestOptions = {
    host: target.host,
    port: target.port,
    path,
    method: 'GET',
    // One connection per request: discovery makes a handful an hour, and a watch holds its own.
    agent: false,
    headers: { 'user-agent': `kube-local-lb/${VERSION}`, accept: 'application/json', ...creds?.headers },
    servername: c.tlsServerName,
    ca: creds?.ca,
    cert: creds?.cert,
    key: creds?.key,
    rejectUnauthorized: !c.insecureSkipVerify,
  };
  const req = (c.scheme === 'http' ? http : https).request(options);
  // TCP keepalive: a watch can be silent for a minute between bookmarks.
  req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
  return req;
}

interface Settle {
  readonly settled: boolean;
  /** Succeeds once (`finish` runs), clearing the timer. */
  done(finish: () => void): void;
  /** Fails once with `err`, destroying the request. */
  fail(err: DiscoveryError): void;
  /** Restarts the timer: `ms` more before `timeout` fails the request. */
  rearm(ms: number, message: string): void;
}

/**
 * One owner for a request's end: the first of success, failure, timeout and abort wins, the
 * request is destroyed on every failure, and the timer is always cleared.
 */
function guard(req: http.ClientRequest, timeoutMs: number, signal: AbortSignal, reject: (err: unknown) => void): Settle {
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => settle.fail(signal.reason instanceof DiscoveryError ? signal.reason : new DiscoveryError('backend_down', 'stopped'));
  const end = (): boolean => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    return true;
  };
  const settle: Settle = {
    get settled() {
      return settled;
    },
    done(finish) {
      if (end()) finish();
    },
    fail(err) {
      if (!end()) return;
      req.destroy();
      reject(err);
    },
    rearm(ms, message) {
      if (settled) return;
      clearTimeout(timer);
      timer = setTimeout(() => settle.fail(new DiscoveryError('timeout', message)), ms);
    },
  };
  settle.rearm(timeoutMs, `no answer within ${timeoutMs} ms`);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort);
  req.on('error', (err) => settle.fail(socketError(err)));
  return settle;
}

function socketError(err: unknown): DiscoveryError {
  const reason = reasonOfError(err);
  const detail = reason === 'error' && err instanceof Error ? err.message : REASONS[reason].text;
  return new DiscoveryError('unreachable', detail);
}

function statusError(status: number, body: string, path: string): DiscoveryError {
  let message = '';
  try {
    const parsed: unknown = JSON.parse(body);
    if (isObject(parsed) && typeof parsed['message'] === 'string') message = `: ${parsed['message']}`;
  } catch {
    // Not a Status object: the status code says enough.
  }
  const reason: DiscoveryErrorReason =
    status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : status === 404 ? 'not_found' : 'http_status';
  return new DiscoveryError(reason, `${path}: HTTP ${status}${message}`, status);
}
