import type { TLSSocket } from 'node:tls';

/**
 * Authentication and authorization as kube-apiserver decides them for the requests a node-local
 * proxy cares about (reference §2): x509 client certificates and bearer tokens in a union
 * (first success wins), then anonymous only when nothing was presented; any presented
 * credential that fails makes the request 401, even with anonymous on.
 */

/** An authenticated identity. */
export interface User {
  readonly name: string;
  readonly groups: readonly string[];
}

/**
 * How anonymous requests are treated:
 * - `on`: the default `--anonymous-auth=true`;
 * - `off`: `--anonymous-auth=false`, every request without credentials gets 401;
 * - `health-only`: KEP-4633 AuthenticationConfiguration with conditions on exactly `/livez`,
 *   `/readyz`, `/healthz`; any other path without credentials gets 401.
 */
export type AnonymousMode = 'on' | 'off' | 'health-only';

/** The outcome of authentication. */
export type Authentication =
  | { kind: 'user'; user: User }
  | { kind: 'anonymous'; user: User }
  | { kind: 'unauthorized' };

/** What the authenticator needs to know about the server's configuration. */
export interface AuthConfig {
  readonly anonymous: AnonymousMode;
  /** Bearer token -> identity (a static token file). */
  readonly tokens: ReadonlyMap<string, User>;
  /** Whether client certificates are verified at all (a client CA was configured). */
  readonly clientCertAuth: boolean;
}

export const ANONYMOUS: User = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
const HEALTH_PATHS = new Set(['/livez', '/readyz', '/healthz']);

type Attempt = { kind: 'none' } | { kind: 'ok'; user: User } | { kind: 'error' };

/** x509 request authenticator: CN is the user, every O a group; an unverified chain is an error. */
function fromClientCert(socket: TLSSocket | null, config: AuthConfig): Attempt {
  if (!socket || !config.clientCertAuth) return { kind: 'none' };
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return { kind: 'none' };
  if (!socket.authorized) return { kind: 'error' };
  const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
  const [name] = list(peer.subject.CN);
  if (!name) return { kind: 'error' };
  return { kind: 'ok', user: { name, groups: [...list(peer.subject.O), 'system:authenticated'] } };
}

/** Bearer token authenticator: a header that is not `Bearer <token>` is ignored, an unknown token is an error. */
function fromBearerToken(authorization: string | undefined, config: AuthConfig): Attempt {
  const auth = (authorization ?? '').trim();
  if (auth === '') return { kind: 'none' };
  const parts = auth.split(' ');
  if (parts.length < 2 || parts[0]?.toLowerCase() !== 'bearer' || !parts[1]) return { kind: 'none' };
  const user = config.tokens.get(parts[1]);
  if (!user) return { kind: 'error' };
  return { kind: 'ok', user: { name: user.name, groups: [...user.groups, 'system:authenticated'] } };
}

/** Runs the union of authenticators, then anonymous per `config.anonymous`. */
export function authenticate(
  request: { path: string; authorization: string | undefined; socket: TLSSocket | null },
  config: AuthConfig,
): Authentication {
  const attempts = [fromClientCert(request.socket, config), fromBearerToken(request.authorization, config)];
  for (const attempt of attempts) if (attempt.kind === 'ok') return { kind: 'user', user: attempt.user };
  if (attempts.some((a) => a.kind === 'error')) return { kind: 'unauthorized' };
  switch (config.anonymous) {
    case 'on': return { kind: 'anonymous', user: ANONYMOUS };
    case 'off': return { kind: 'unauthorized' };
    case 'health-only': return HEALTH_PATHS.has(request.path) ? { kind: 'anonymous', user: ANONYMOUS } : { kind: 'unauthorized' };
    default: return assertNever(config.anonymous);
  }
}

// system:public-info-viewer: exact paths only (its rules have no trailing `*`).
const PUBLIC_INFO = new Set(['/livez', '/readyz', '/healthz', '/version', '/version/']);
// system:discovery, bound to system:authenticated.
const DISCOVERY_EXACT = new Set(['/api', '/apis', '/healthz', '/livez', '/readyz', '/version', '/version/', '/openapi']);
const DISCOVERY_PREFIX = ['/api/', '/apis/', '/openapi/'];

/**
 * The bootstrap roles for the requests this imitation serves. system:masters may do anything.
 * Anonymous users get `system:public-info-viewer` when it is bound. Other authenticated users
 * also get `system:discovery`, which covers `/api/*`; health subpaths such as `/readyz/etcd`
 * and `/metrics` are not covered, as with the real default roles. Reads of pods are allowed
 * to every authenticated user (kinder than RBAC, which grants them to nodes only); the
 * `kubernetes` Service's endpoints are decided by rbac.ts instead.
 */
export function authorize(user: User, verb: string, path: string, publicInfoViewerBound: boolean): boolean {
  if (user.groups.includes('system:masters')) return true;
  if (verb === 'get' && publicInfoViewerBound && PUBLIC_INFO.has(path)) return true;
  if (user.groups.includes('system:unauthenticated')) return false;
  return verb === 'get' || verb === 'list' || verb === 'watch'
    ? DISCOVERY_EXACT.has(path) || DISCOVERY_PREFIX.some((prefix) => path.startsWith(prefix))
    : false;
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${String(value)}`);
}
