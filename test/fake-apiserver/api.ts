import type { Pod, PodStore } from './pods.js';
import { podTable } from './table.js';
import type { EndpointsRoute } from './endpoints-api.js';
import { encodeObject, goJson, methodNotAllowed, objectNotFound, pathNotFound } from './status.js';

/**
 * The API surface real clients need to work against the imitation: `/version`, legacy
 * discovery (`/api`, `/apis`, `/api/v1`), pods and namespaces (LIST, GET; WATCH is
 * watch.ts). Everything is read-only.
 */

/** A request the API part understands, with its RBAC verb and resource. */
export type ApiRoute =
  | { kind: 'root' }
  | { kind: 'version' }
  | { kind: 'discovery'; document: 'api' | 'apis' | 'api/v1' }
  | { kind: 'pods'; verb: 'get' | 'list' | 'watch'; namespace: string | undefined; name: string | undefined }
  | { kind: 'namespaces'; verb: 'get' | 'list'; name: string | undefined }
  | { kind: 'services'; verb: 'get'; namespace: string; name: string }
  | EndpointsRoute
  | { kind: 'not-allowed'; resource: string; namespace: string | undefined; name: string | undefined }
  | { kind: 'not-found' };

const JSON_TYPE = { 'Content-Type': 'application/json' };

/** The version this imitation reports (a kube-apiserver 1.32). */
export const VERSION = {
  major: '1', minor: '32', gitVersion: 'v1.32.4', gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335',
  gitTreeState: 'clean', buildDate: '2025-04-22T16:02:27Z', goVersion: 'go1.23.6', compiler: 'gc', platform: 'linux/amd64',
};

const ROOT_PATHS = ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/readyz', '/version'];

/** Maps method and path to a route; `null` when the path is not an API path at all. */
export function routeApi(method: string, path: string, query: URLSearchParams): ApiRoute | null {
  if (path === '/') return { kind: 'root' };
  if (path === '/version' || path === '/version/') return { kind: 'version' };
  if (path === '/api' || path === '/api/') return { kind: 'discovery', document: 'api' };
  if (path === '/apis' || path === '/apis/') return { kind: 'discovery', document: 'apis' };
  if (path === '/api/v1' || path === '/api/v1/') return { kind: 'discovery', document: 'api/v1' };
  const watch = ['1', 'true'].includes(query.get('watch') ?? '');
  const read = method === 'GET';
  let match = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?pods(?:\/([^/]+))?$/.exec(path);
  if (match) {
    const [, namespace, name] = match;
    if (!read) return { kind: 'not-allowed', resource: 'pods', namespace, name };
    return { kind: 'pods', verb: name !== undefined ? 'get' : watch ? 'watch' : 'list', namespace, name };
  }
  match = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)$/.exec(path);
  if (match) {
    const [, namespace = '', name = ''] = match;
    if (!read || watch) return { kind: 'not-allowed', resource: 'services', namespace, name };
    return { kind: 'services', verb: 'get', namespace, name };
  }
  match = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(path);
  if (match) {
    const [, name] = match;
    if (!read || watch) return { kind: 'not-allowed', resource: 'namespaces', namespace: undefined, name };
    return { kind: 'namespaces', verb: name !== undefined ? 'get' : 'list', name };
  }
  // The `kubernetes` Service's endpoints (endpoints-api.ts).
  for (const [kind, pattern] of [
    ['endpointslices', /^\/apis\/discovery\.k8s\.io\/v1\/(?:namespaces\/([^/]+)\/)?endpointslices(?:\/([^/]+))?$/],
    ['endpoints', /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?endpoints(?:\/([^/]+))?$/],
  ] as const) {
    match = pattern.exec(path);
    if (!match) continue;
    const [, namespace, name] = match;
    if (!read) return { kind: 'not-allowed', resource: kind, namespace, name };
    return { kind, verb: name !== undefined ? 'get' : watch ? 'watch' : 'list', namespace, name };
  }
  return path.startsWith('/api/') || path.startsWith('/apis/') ? { kind: 'not-found' } : null;
}

/** A whole response as data; the server writes it. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function object(status: number, value: unknown, pretty: boolean): ApiResponse {
  return { status, headers: JSON_TYPE, body: encodeObject(value, pretty) };
}

/** How the client wants the answer: indented JSON, a Table (kubectl), and the address /api reports. */
export interface Rendering {
  readonly pretty: boolean;
  readonly table: boolean;
  /** `host:port` reported in /api serverAddressByClientCIDRs. */
  readonly serverAddress: string;
  /** spec.clusterIP of Service default/kubernetes. */
  readonly clusterIp?: string;
}

/** The response to every route except `pods` `watch`. */
export function serveApi(route: ApiRoute, store: PodStore, query: URLSearchParams, rendering: Rendering): ApiResponse {
  const { pretty, table, serverAddress } = rendering;
  switch (route.kind) {
    case 'root':
      // The index of paths, written like /version with WriteRawJSON.
      return { status: 200, headers: JSON_TYPE, body: goJson({ paths: ROOT_PATHS }, 2) };
    case 'version':
      // responsewriters.WriteRawJSON: always indented, no trailing newline.
      return { status: 200, headers: JSON_TYPE, body: goJson(VERSION, 2) };
    case 'discovery':
      return object(200, discovery(route.document, serverAddress), pretty);
    case 'pods': {
      if (route.name !== undefined) {
        const pod = store.get(route.namespace ?? 'default', route.name);
        if (!pod) return object(404, objectNotFound('pods', route.name), pretty);
        return object(200, table ? podTable([pod], store.resourceVersion) : pod, pretty);
      }
      const matches = selectorFilter(query);
      if (table) return object(200, podTable(store.list(route.namespace).filter(matches), store.resourceVersion), pretty);
      const items = store.list(route.namespace).filter(matches).map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
      return object(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(store.resourceVersion) }, items }, pretty);
    }
    case 'namespaces': {
      const names = store.namespaces();
      if (route.name !== undefined) {
        return names.includes(route.name) ? object(200, namespace(route.name), pretty) : object(404, objectNotFound('namespaces', route.name), pretty);
      }
      const items = names.map((n) => {
        const { kind: _k, apiVersion: _a, ...rest } = namespace(n);
        return rest;
      });
      return object(200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: String(store.resourceVersion) }, items }, pretty);
    }
    case 'services':
      // Only the one Service every cluster has: default/kubernetes.
      if (route.namespace !== 'default' || route.name !== 'kubernetes') return object(404, objectNotFound('services', route.name), pretty);
      return object(200, kubernetesService(rendering.clusterIp ?? '10.96.0.1'), pretty);
    case 'endpointslices':
    case 'endpoints':
      throw new Error(`${route.kind} are served by endpoints-api.ts`);
    case 'not-allowed':
      return object(405, methodNotAllowed(), pretty);
    case 'not-found':
      return object(404, pathNotFound(), pretty);
    default:
      return assertNever(route);
  }
}

function discovery(document: 'api' | 'apis' | 'api/v1', serverAddress: string): unknown {
  switch (document) {
    case 'api':
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
    case 'apis':
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: [] };
    case 'api/v1':
      return {
        kind: 'APIResourceList', groupVersion: 'v1', resources: [
          { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'], storageVersionHash: 'Q3oi5N2YM8M=' },
          { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['po'], categories: ['all'], storageVersionHash: 'xPOwRZ+Yhw8=' },
          { name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update'] },
        ],
      };
    default:
      return assertNever(document);
  }
}

function kubernetesService(clusterIp: string): unknown {
  return {
    kind: 'Service', apiVersion: 'v1',
    metadata: { name: 'kubernetes', namespace: 'default', resourceVersion: '1', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: {
      clusterIP: clusterIp, clusterIPs: [clusterIp], type: 'ClusterIP', sessionAffinity: 'None',
      ports: [{ name: 'https', protocol: 'TCP', port: 443, targetPort: 6443 }],
    },
    status: { loadBalancer: {} },
  };
}

function namespace(name: string): { kind: string; apiVersion: string; metadata: object; spec: object; status: object } {
  return {
    kind: 'Namespace', apiVersion: 'v1',
    metadata: { name, resourceVersion: '1', creationTimestamp: '2025-01-01T00:00:00Z', labels: { 'kubernetes.io/metadata.name': name } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

/**
 * `labelSelector` (`a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-joined) and `fieldSelector` on
 * `metadata.name`, `metadata.namespace` and `spec.nodeName` (what kubelet watches by).
 */
export function selectorFilter(query: URLSearchParams): (pod: Pod) => boolean {
  const terms = (text: string | null): { key: string; op: '=' | '!=' | 'exists' | '!exists'; value: string }[] =>
    (text ?? '').split(',').filter((t) => t.trim() !== '').map((raw) => {
      const t = raw.trim();
      const m = /^([^!=]+?)\s*(==|!=|=)\s*(.*)$/.exec(t);
      if (m) return { key: m[1] ?? '', op: m[2] === '!=' ? '!=' : '=', value: m[3] ?? '' };
      return t.startsWith('!') ? { key: t.slice(1), op: '!exists', value: '' } : { key: t, op: 'exists', value: '' };
    });
  const labels = terms(query.get('labelSelector'));
  const fields = terms(query.get('fieldSelector'));
  const fieldValue = (pod: Pod, key: string): string | undefined =>
    key === 'metadata.name' ? pod.metadata.name
      : key === 'metadata.namespace' ? pod.metadata.namespace
        : key === 'spec.nodeName' ? (pod.spec.nodeName ?? '')
          : key === 'status.phase' ? pod.status.phase : undefined;
  const test = (value: string | undefined, term: { op: string; value: string }): boolean =>
    term.op === '=' ? value === term.value
      : term.op === '!=' ? value !== term.value
        : term.op === 'exists' ? value !== undefined : value === undefined;
  return (pod) => labels.every((t) => test(pod.metadata.labels?.[t.key], t)) && fields.every((t) => test(fieldValue(pod, t.key), t));
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}
