/**
 * metav1.Status bodies and the JSON encoding the apiserver uses for them, byte for byte:
 * Go's encoding/json escapes `<`, `>`, `&`, U+2028 and U+2029; the compact form comes from
 * json.Encoder (a trailing newline), the pretty form from MarshalIndent (none)
 * (apimachinery pkg/runtime/serializer/json/json.go doEncode).
 */

/** A metav1.Status, fields in the order Go writes them. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string };
  code: number;
}

/** JSON text as Go's encoding/json writes it (HTML-safe escapes). */
export function goJson(value: unknown, indent = 0): string {
  return JSON.stringify(value, null, indent)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** An API object as the apiserver's JSON serializer writes it: compact plus newline, or pretty. */
export function encodeObject(value: unknown, pretty: boolean): string {
  return pretty ? goJson(value, 2) : `${goJson(value)}\n`;
}

/**
 * Whether the apiserver pretty-prints for this request (apiserver handlers/negotiation
 * isPrettyPrint): `?pretty=<bool>` decides when present and non-empty, else curl, Wget and
 * browsers get indented JSON.
 */
export function wantsPretty(query: URLSearchParams, userAgent: string | undefined): boolean {
  const pretty = query.get('pretty');
  if (pretty !== null && pretty.length > 0) return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(pretty);
  const ua = userAgent ?? '';
  return ua.startsWith('curl') || ua.startsWith('Wget') || ua.startsWith('Mozilla/5.0');
}

function failure(code: number, reason: string, message: string, details?: Status['details']): Status {
  // Insertion order is Go's field order: details (when set) comes before code.
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** 401 from the authentication filter's Unauthorized handler: no details. */
export function unauthorized(): Status {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

/**
 * 403 for a non-resource request (responsewriters.Forbidden): the message is HTML-sanitized
 * (`&`, `<`, `>` become entities) and quoted with Go's %q.
 */
export function forbiddenPath(user: string, verb: string, path: string, reason = ''): Status {
  const message = `forbidden: User ${goQuote(user)} cannot ${verb} path ${goQuote(path)}${reason === '' ? '' : `: ${reason}`}`;
  return failure(403, 'Forbidden', message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'), {});
}

/**
 * 403 for a resource request, e.g. `pods is forbidden: User "system:anonymous" cannot list
 * resource "pods" in API group "" at the cluster scope`.
 */
export function forbiddenResource(user: string, verb: string, resource: string, namespace: string | undefined, name: string | undefined, group = '', rbacReason = ''): Status {
  const scope = namespace === undefined ? 'at the cluster scope' : `in the namespace ${goQuote(namespace)}`;
  const reason = `User ${goQuote(user)} cannot ${verb} resource ${goQuote(resource)} in API group ${goQuote(group)} ${scope}`;
  const qualified = group === '' ? resource : `${resource}.${group}`;
  const subject = name === undefined ? `${qualified} is forbidden` : `${qualified} ${goQuote(name)} is forbidden`;
  const message = `${subject}: ${reason}${rbacReason === '' ? '' : `: ${rbacReason}`}`.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  // StatusDetails field order: name, group, kind.
  return failure(403, 'Forbidden', message, { ...(name === undefined ? {} : { name }), ...(group === '' ? {} : { group }), kind: resource });
}

/**
 * 504 from the timeout filter (and the finisher) when a request's deadline passed, e.g. a
 * quorum read or a write while etcd does not answer.
 */
export function requestTimeout(): Status {
  return failure(504, 'Timeout', 'Timeout: request did not complete within requested timeout - context deadline exceeded', {});
}

const NEGOTIABLE = new Set(['*/*', 'application/*', 'application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);

/** Whether the Accept header admits one of the apiserver's serializers (none given admits all). */
export function acceptsApiObject(accept: string | undefined): boolean {
  const ranges = (accept ?? '').split(',').map((r) => (r.split(';')[0] ?? '').trim().toLowerCase()).filter((r) => r !== '');
  return ranges.length === 0 || ranges.some((r) => NEGOTIABLE.has(r));
}

/**
 * An error Status as responsewriters.ErrorNegotiated writes it: encoded by the negotiated
 * serializer, or, when the Accept header admits none (`text/plain`, as health checkers send),
 * by WriteRawJSON: indented, no trailing newline, and without kind and apiVersion (they are
 * only filled in by a serializer).
 */
export function encodeError(status: Status, accept: string | undefined, pretty: boolean): string {
  if (acceptsApiObject(accept)) return encodeObject(status, pretty);
  const { kind: _kind, apiVersion: _apiVersion, ...raw } = status;
  return goJson(raw, 2);
}

/** 503 written by WithWaitGroup once the server stopped accepting new requests. */
export function shuttingDown(): Status {
  return failure(503, 'ServiceUnavailable', 'apiserver is shutting down');
}

/** 404 from the apiserver's NotFoundHandler for a path nothing serves. */
export function pathNotFound(): Status {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** 404 for a named object that does not exist, e.g. `pods "x" not found`. */
export function objectNotFound(resource: string, name: string): Status {
  return failure(404, 'NotFound', `${resource} ${goQuote(name)} not found`, { name, kind: resource });
}

/** 405 for a verb this imitation does not serve on a resource. */
export function methodNotAllowed(): Status {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

/** 410 Expired: the watch cache no longer holds the requested resourceVersion. */
export function expired(requested: number, oldest: number): Status {
  return failure(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
}

/** 400 for a resourceVersion that is not a number. */
export function badResourceVersion(text: string): Status {
  return failure(400, 'BadRequest', `resourceVersion: Invalid value: ${goQuote(text)}: strconv.ParseUint: parsing ${goQuote(text)}: invalid syntax`);
}

/** Go's %q for the printable ASCII these messages carry; JSON string quoting matches it there. */
function goQuote(text: string): string {
  return JSON.stringify(text);
}
