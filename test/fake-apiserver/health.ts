/**
 * /livez, /readyz, /healthz and their per-check subpaths, as apiserver pkg/server/healthz
 * writes them (reference §1): `ok`, `?verbose` (presence only), repeatable `?exclude`, a
 * failing check always verbose with its reason withheld, subpaths answering `ok` or
 * `internal server error: <err>`.
 */

/** The three health roots. */
export type HealthRoot = 'livez' | 'readyz' | 'healthz';

/** What the checks read: the etcd probes, the shutdown state and, while starting, the checks not yet passing. */
export interface HealthState {
  /** The `etcd` check (one probe shared by the three roots and the subpaths). */
  readonly etcd: () => Promise<string | null>;
  /** The readyz-only `etcd-readiness` check. */
  readonly etcdReadiness: () => Promise<string | null>;
  readonly shuttingDown: boolean;
  /** Names of the checks that fail because the server is still starting (see STARTING_CHECKS). */
  readonly starting: ReadonlySet<string>;
}

/** A response as plain data; the server adds the common headers. */
export interface PlainResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

interface Check {
  readonly name: string;
  readonly roots: readonly HealthRoot[];
  /** The error the check returns, or null when it passes; the etcd checks take time. */
  readonly error: (state: HealthState) => string | null | Promise<string | null>;
}

const ALL: readonly HealthRoot[] = ['livez', 'readyz', 'healthz'];
const STARTING_ERROR = 'not finished';
const pass = (state: HealthState, name: string): string | null => (state.starting.has(name) ? STARTING_ERROR : null);

// The post-start hooks of a kube-apiserver 1.32 (kube-apiserver, apiextensions, aggregator).
const POST_START_HOOKS = [
  'start-apiserver-admission-initializer', 'generic-apiserver-start-informers', 'priority-and-fairness-config-consumer',
  'priority-and-fairness-filter', 'storage-object-count-tracker-hook', 'start-apiextensions-informers',
  'start-apiextensions-controllers', 'crd-informer-synced', 'start-system-namespaces-controller',
  'start-cluster-authentication-info-controller', 'start-kube-apiserver-identity-lease-controller',
  'start-kube-apiserver-identity-lease-garbage-collector', 'start-legacy-token-tracking-controller',
  'start-service-ip-repair-controllers', 'rbac/bootstrap-roles', 'scheduling/bootstrap-system-priority-classes',
  'priority-and-fairness-config-producer', 'bootstrap-controller', 'aggregator-reload-proxy-client-cert',
  'start-kube-aggregator-informers', 'apiservice-status-local-available-controller',
  'apiservice-status-remote-available-controller', 'apiservice-registration-controller',
  'apiservice-discovery-controller', 'kube-apiserver-autoregistration',
];

/** The checks in the order the apiserver installs them; `shutdown` is readyz-only and last. */
const CHECKS: readonly Check[] = [
  { name: 'ping', roots: ALL, error: () => null },
  { name: 'log', roots: ALL, error: () => null },
  { name: 'etcd', roots: ALL, error: (state) => state.etcd() },
  { name: 'etcd-readiness', roots: ['readyz'], error: (state) => state.etcdReadiness() },
  { name: 'informer-sync', roots: ['readyz'], error: (state) => pass(state, 'informer-sync') },
  ...POST_START_HOOKS.map((hook): Check => ({ name: `poststarthook/${hook}`, roots: ALL, error: (state) => pass(state, `poststarthook/${hook}`) })),
  { name: 'autoregister-completion', roots: ALL, error: (state) => pass(state, 'autoregister-completion') },
  { name: 'poststarthook/apiservice-openapi-controller', roots: ALL, error: () => null },
  { name: 'poststarthook/apiservice-openapiv3-controller', roots: ALL, error: () => null },
  { name: 'shutdown', roots: ['readyz'], error: (state) => (state.shuttingDown ? 'process is shutting down' : null) },
];

/**
 * What still fails while a (re)started apiserver runs its post-start hooks: the shared
 * informers (RBAC's among them) have not synced, and the hooks that write bootstrap objects
 * or wait for controllers have not returned. The rest pass at once.
 */
export const STARTING_CHECKS: ReadonlySet<string> = new Set([
  'informer-sync', 'poststarthook/start-apiextensions-controllers', 'poststarthook/crd-informer-synced',
  'poststarthook/start-service-ip-repair-controllers', 'poststarthook/rbac/bootstrap-roles',
  'poststarthook/scheduling/bootstrap-system-priority-classes', 'poststarthook/priority-and-fairness-config-producer',
  'poststarthook/bootstrap-controller', 'poststarthook/apiservice-registration-controller',
  'poststarthook/apiservice-status-local-available-controller', 'poststarthook/apiservice-status-remote-available-controller',
  'poststarthook/apiservice-discovery-controller', 'poststarthook/kube-apiserver-autoregistration', 'autoregister-completion',
]);

/** The check names served under one root, in order (for tests and docs). */
export function checkNames(root: HealthRoot): string[] {
  return CHECKS.filter((c) => c.roots.includes(root)).map((c) => c.name);
}

/** Splits `/readyz/etcd` into root and check; null for paths outside the health endpoints. */
export function parseHealthPath(path: string): { root: HealthRoot; check: string | null } | null {
  const match = /^\/(livez|readyz|healthz)(?:\/(.+))?$/.exec(path);
  if (!match) return null;
  return { root: match[1] as HealthRoot, check: match[2] ?? null };
}

const TEXT = 'text/plain; charset=utf-8';

/** Go's http.Error: text/plain, nosniff, the message plus a newline. */
function httpError(status: number, message: string): PlainResponse {
  return { status, headers: { 'Content-Type': TEXT, 'X-Content-Type-Options': 'nosniff' }, body: `${message}\n` };
}

/**
 * The answer of a health root or subpath. Resolves to null for an unknown subpath, which the
 * caller answers as any unknown path (404). Checks run one after another, as
 * handleRootHealth runs them: the etcd checks' waits add up.
 */
export async function healthResponse(root: HealthRoot, check: string | null, query: URLSearchParams, state: HealthState): Promise<PlainResponse | null> {
  const checks = CHECKS.filter((c) => c.roots.includes(root));
  if (check !== null) {
    const found = checks.find((c) => c.name === check);
    if (!found) return null;
    const error = await found.error(state);
    if (error !== null) return httpError(500, `internal server error: ${error}`);
    // fmt.Fprint(w, "ok") with no Content-Type set: Go sniffs text/plain, and adds no nosniff.
    return { status: 200, headers: { 'Content-Type': TEXT }, body: 'ok' };
  }

  const excluded = new Set(query.getAll('exclude'));
  let lines = '';
  let failed = false;
  for (const c of checks) {
    if (excluded.delete(c.name)) {
      lines += `[+]${c.name} excluded: ok\n`;
      continue;
    }
    if ((await c.error(state)) !== null) {
      failed = true;
      lines += `[-]${c.name} failed: reason withheld\n`;
    } else {
      lines += `[+]${c.name} ok\n`;
    }
  }
  if (excluded.size > 0) {
    const names = [...excluded].sort().map((n) => JSON.stringify(n)).join(',');
    lines += `warn: some health checks cannot be excluded: no matches for ${names}\n`;
  }
  if (failed) return httpError(500, `${lines}${root} check failed`);
  const headers = { 'Content-Type': TEXT, 'X-Content-Type-Options': 'nosniff' };
  if (!query.has('verbose')) return { status: 200, headers, body: 'ok' };
  return { status: 200, headers, body: `${lines}${root} check passed\n` };
}
