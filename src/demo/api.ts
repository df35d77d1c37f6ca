import type { Answer } from './health.js';
import { assertNever } from '../never.js';

/**
 * The few API answers the demo's clients need (`/version`, discovery, the pods of `default`) and
 * the Status bodies of refusals, shaped as kube-apiserver writes them, so that kubectl and curl
 * behave as they would against a cluster. Read-only and static: the point is the path to the
 * apiserver, not the apiserver.
 */

const JSON_TYPE = { 'Content-Type': 'application/json' };

const VERSION = {
  major: '1', minor: '32', gitVersion: 'v1.32.4', gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335',
  gitTreeState: 'clean', buildDate: '2025-04-22T16:02:27Z', goVersion: 'go1.23.6', compiler: 'gc', platform: 'linux/amd64',
};

// Made once per process: every imitation answers the same pods, as apiservers sharing one etcd do.
const CREATED = new Date(Date.now() - 3 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const PODS = ['web-7d4b9c6f5-2xkqp', 'web-7d4b9c6f5-9lmzt', 'worker-5f8d7b9c4-q7wns'].map((name, i) => ({
  metadata: { name, namespace: 'default', uid: `6f1c1a2e-0000-4000-8000-00000000000${i + 1}`, resourceVersion: String(1000 + i),
    creationTimestamp: CREATED, labels: { app: name.split('-')[0] ?? name } },
  spec: { nodeName: `node-${i + 1}`, containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] },
  status: { phase: 'Running', podIP: `10.244.${i + 1}.7`,
    containerStatuses: [{ name: 'main', ready: true, restartCount: 0, image: 'registry.k8s.io/pause:3.10' }] },
}));

/** A request the imitation understands; `null` from {@link apiRoute} is a 404. */
export type ApiRoute =
  | { kind: 'version' }
  | { kind: 'api' }
  | { kind: 'apis' }
  | { kind: 'api-v1' }
  | { kind: 'pods'; namespace: string };

/** Whether RBAC's default roles refuse a route to anonymous clients: only `/version` is public. */
export function needsAuthentication(route: ApiRoute): boolean {
  return route.kind !== 'version';
}

export function apiRoute(method: string, path: string): ApiRoute | null {
  if (method !== 'GET' && method !== 'HEAD') return null;
  if (path === '/version' || path === '/version/') return { kind: 'version' };
  if (path === '/api' || path === '/api/') return { kind: 'api' };
  if (path === '/apis' || path === '/apis/') return { kind: 'apis' };
  if (path === '/api/v1' || path === '/api/v1/') return { kind: 'api-v1' };
  const pods = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/pods$/.exec(path);
  if (pods?.[1] !== undefined) return { kind: 'pods', namespace: pods[1] };
  return null;
}

/** The answer to a route; `table` when kubectl asked for server-side printing. */
export function apiAnswer(route: ApiRoute, serverAddress: string, table: boolean): Answer {
  switch (route.kind) {
    case 'version':
      return json(200, VERSION, 2);
    case 'api':
      return json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] });
    case 'apis':
      return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    case 'api-v1':
      return json(200, { kind: 'APIResourceList', groupVersion: 'v1', resources: [
        { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'], categories: ['all'] },
      ] });
    case 'pods': {
      const items = route.namespace === 'default' ? PODS : [];
      return json(200, table ? podTable(items) : { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1002' }, items });
    }
    default:
      return assertNever(route);
  }
}

/** Whether the Accept header asks for a meta.k8s.io Table, as `kubectl get` does. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((type) => /;\s*as=Table/.test(type) && /;\s*g=meta\.k8s\.io/.test(type));
}

function podTable(pods: typeof PODS): unknown {
  const ageMinutes = Math.floor((Date.now() - Date.parse(CREATED)) / 60_000);
  const age = ageMinutes < 120 ? `${ageMinutes}m` : `${Math.floor(ageMinutes / 60)}h`;
  return {
    kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '1002' },
    columnDefinitions: ['Name', 'Ready', 'Status', 'Restarts', 'Age'].map((name) => ({ name, type: 'string', format: name === 'Name' ? 'name' : '', description: '', priority: 0 })),
    rows: pods.map((pod) => ({
      cells: [pod.metadata.name, '1/1', pod.status.phase, '0', age],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: pod.metadata },
    })),
  };
}

/** 401 as the authentication filter writes it (a client certificate that does not verify). */
export function unauthorizedAnswer(): Answer {
  return json(401, status(401, 'Unauthorized', 'Unauthorized'));
}

/** 403 for a non-resource path, as RBAC's default roles answer an anonymous client. */
export function forbiddenAnswer(user: string, path: string): Answer {
  return json(403, status(403, 'Forbidden', `forbidden: User ${JSON.stringify(user)} cannot get path ${JSON.stringify(path)}`, {}));
}

export function notFoundAnswer(): Answer {
  return json(404, status(404, 'NotFound', 'the server could not find the requested resource'));
}

function status(code: number, reason: string, message: string, details?: object): object {
  // Go's field order: details, when set, comes before code.
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function json(statusCode: number, value: unknown, indent = 0): Answer {
  return { status: statusCode, headers: JSON_TYPE, body: indent > 0 ? JSON.stringify(value, null, indent) : `${JSON.stringify(value)}\n` };
}
