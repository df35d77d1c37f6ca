import type { Backend } from '../backends/backend.js';
import type { Pool } from '../backends/pool.js';
import { REASONS, verdictOf } from '../health/verdict.js';

/**
 * The `/backends` document: what the admin server writes, and what `status`, `doctor` and the
 * demo read. One module, so the writer and its readers cannot drift apart.
 */

/** One backend as `/backends` shows it. Nothing here is secret: addresses, states, timings. */
export interface BackendView {
  address: string;
  state: string;
  since: string;
  reason: string | undefined;
  reasonText: string | undefined;
  priority: number;
  weight: number;
  sessions: number;
  suspect: boolean;
  checkAuthorized: boolean;
  lastCheck: { at: string; verdict: string; reason: string; status: number | undefined; durationMs: number } | null;
}

export function viewOf(b: Backend): BackendView {
  const s = b.state;
  const reason = s.kind === 'down' || s.kind === 'draining' ? s.reason : undefined;
  const c = b.lastCheck;
  return {
    address: b.address,
    state: s.kind,
    since: new Date(s.since).toISOString(),
    reason,
    reasonText: reason ? REASONS[reason].text : undefined,
    priority: b.priority,
    weight: b.weight,
    sessions: b.activeSessions,
    suspect: b.suspect,
    checkAuthorized: b.authorized,
    lastCheck: c
      ? { at: new Date(c.at).toISOString(), verdict: verdictOf(c.reason), reason: c.reason, status: c.status,
          durationMs: Math.round(c.durationMs * 100) / 100 }
      : null,
  };
}

/** What `/backends` answers: whether the pool is in panic mode, and one view per backend. */
export interface BackendsDocument {
  panic: boolean;
  /** How the checks authenticate (`anonymous`, `kubeconfig /etc/...`); absent from older proxies. */
  healthCredential: string | undefined;
  backends: BackendView[];
}

/** The document of a pool as it is now. */
export function documentOf(pool: Pool): BackendsDocument {
  return { panic: pool.panic, healthCredential: pool.credential, backends: pool.backends.map(viewOf) };
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

/**
 * Whether a new session would find a backend, as the pool decides it (`Pool.hasEligible`, the
 * admin `/readyz`): any backend not down. Up ones first, else unknown ones (a cold start), else
 * draining ones (panic mode).
 */
export function hasEligible(document: BackendsDocument): boolean {
  return document.backends.some((b) => b.state !== 'down');
}
