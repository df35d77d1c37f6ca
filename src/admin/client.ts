import http from 'node:http';
import type { BackendView } from './server.js';

/** How long a command waits for the admin endpoint: it is on this node or next to it. */
export const ADMIN_TIMEOUT_MS = 3000;

/** What `/backends` answers: whether the pool is in panic mode, and one view per backend. */
export interface BackendsDocument {
  panic: boolean;
  /** How the checks authenticate (`anonymous`, `kubeconfig /etc/...`); absent from older proxies. */
  healthCredential: string | undefined;
  backends: BackendView[];
}

/**
 * GETs `url` and resolves with the body of a 200 answer. Rejects with an Error whose message is
 * the socket error's code (`ECONNREFUSED`, `ENOTFOUND`), `no answer within 3 s`, or `HTTP 404`.
 */
export function getText(url: string, timeoutMs = ADMIN_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode ?? '?'}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? err.message)));
  });
}

/**
 * `/backends` as data, checked field by field: the reader (status, doctor) may meet a proxy of
 * another version. Undefined when the body is not a backend list.
 */
export function parseBackends(body: string): BackendsDocument | undefined {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (data === null || typeof data !== 'object' || !('backends' in data) || !Array.isArray(data.backends)) return undefined;
  const backends: BackendView[] = [];
  for (const item of data.backends as unknown[]) {
    if (item === null || typeof item !== 'object') return undefined;
    const b = item as Partial<BackendView>;
    if (typeof b.address !== 'string' || typeof b.state !== 'string') return undefined;
    backends.push({
      address: b.address, state: b.state, since: String(b.since ?? ''), reason: b.reason, reasonText: b.reasonText,
      priority: b.priority ?? 0, weight: b.weight ?? 1, sessions: b.sessions ?? 0, suspect: b.suspect ?? false,
      checkAuthorized: b.checkAuthorized ?? true, lastCheck: b.lastCheck ?? null,
    });
  }
  const credential = 'healthCredential' in data && typeof data.healthCredential === 'string' ? data.healthCredential : undefined;
  return { backends, panic: 'panic' in data && data.panic === true, healthCredential: credential };
}
