/**
 * `/livez`, `/readyz` and `/healthz` as kube-apiserver writes them (wire reference §1): 200
 * `ok`; `?verbose` lists the checks; a failing check makes the answer 500 and always verbose,
 * with the reason withheld. During a graceful shutdown only `/readyz` fails, through its last
 * check, `shutdown`, while everything else is still served.
 */

export type HealthRoot = 'livez' | 'readyz' | 'healthz';

/** A response as data; the server adds the headers every answer carries. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

// A short version of a 1.32 apiserver's list: enough to look like one, `shutdown` readyz-only and last.
const CHECKS: ReadonlyArray<{ name: string; roots: readonly HealthRoot[] }> = [
  { name: 'ping', roots: ['livez', 'readyz', 'healthz'] },
  { name: 'log', roots: ['livez', 'readyz', 'healthz'] },
  { name: 'etcd', roots: ['livez', 'readyz', 'healthz'] },
  { name: 'etcd-readiness', roots: ['readyz'] },
  { name: 'informer-sync', roots: ['readyz'] },
  { name: 'poststarthook/start-apiserver-admission-initializer', roots: ['livez', 'readyz', 'healthz'] },
  { name: 'poststarthook/rbac/bootstrap-roles', roots: ['livez', 'readyz', 'healthz'] },
  { name: 'shutdown', roots: ['readyz'] },
];

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };

const ROOTS: Readonly<Record<string, HealthRoot>> = { '/livez': 'livez', '/readyz': 'readyz', '/healthz': 'healthz' };

/** The health root a path names, or null. Subpaths such as `/readyz/etcd` are not imitated. */
export function healthRoot(path: string): HealthRoot | null {
  return ROOTS[path] ?? null;
}

/** The answer of a health root; `draining` fails readyz's `shutdown` check. */
export function healthAnswer(root: HealthRoot, verbose: boolean, draining: boolean): Answer {
  let lines = '';
  let failed = false;
  for (const check of CHECKS) {
    if (!check.roots.includes(root)) continue;
    if (check.name === 'shutdown' && draining) {
      failed = true;
      lines += '[-]shutdown failed: reason withheld\n';
    } else {
      lines += `[+]${check.name} ok\n`;
    }
  }
  // Go's http.Error: the message plus a newline.
  if (failed) return { status: 500, headers: TEXT, body: `${lines}${root} check failed\n` };
  return { status: 200, headers: TEXT, body: verbose ? `${lines}${root} check passed\n` : 'ok' };
}
