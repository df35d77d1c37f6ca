import { isIP } from 'node:net';
import { addressKey, canonicalHost, formatHostPort, isDnsName } from '../config/address.js';
import type { BackendConfig } from '../config/schema.js';
import { isObject } from '../json.js';

/**
 * What the `kubernetes` Service's endpoints say, as backends. kube-apiserver's endpoint reconciler
 * writes one EndpointSlice `kubernetes` (label `kubernetes.io/service-name=kubernetes`) and one
 * Endpoints `kubernetes`, both in namespace `default`: each apiserver's advertise address, with
 * the port named `https` (its secure port). Everything here reads untrusted JSON and never throws.
 */

/** The port name the reconciler gives the secure port. */
const PORT_NAME = 'https';

/** One object's contribution, and what in it could not be used. */
export interface Reading {
  backends: BackendConfig[];
  problems: string[];
}

/**
 * The ready endpoints of EndpointSlices. An endpoint counts unless `conditions.ready` is false
 * (unset means ready, per the API); only its first address is used, since the addresses of one
 * endpoint are fungible. `portOverride` 0 keeps the slice's `https` port.
 */
export function fromEndpointSlices(slices: Iterable<unknown>, portOverride: number): Reading {
  const reading: Reading = { backends: [], problems: [] };
  for (const slice of slices) {
    if (!isObject(slice)) {
      reading.problems.push('an EndpointSlice that is not an object');
      continue;
    }
    const name = nameOf(slice);
    const type = slice['addressType'];
    if (type !== 'IPv4' && type !== 'IPv6' && type !== 'FQDN') {
      reading.problems.push(`EndpointSlice ${name}: unknown addressType ${JSON.stringify(type)}`);
      continue;
    }
    const port = portOverride || portOf(slice['ports']);
    if (port === undefined) {
      reading.problems.push(`EndpointSlice ${name}: no port named ${PORT_NAME}`);
      continue;
    }
    for (const endpoint of arrayOf(slice['endpoints'])) {
      if (!isObject(endpoint)) continue;
      const conditions = endpoint['conditions'];
      if (isObject(conditions) && conditions['ready'] === false) continue;
      const [first] = arrayOf(endpoint['addresses']);
      add(reading, first, port, `EndpointSlice ${name}`);
    }
  }
  return finish(reading);
}

/**
 * The ready addresses of an Endpoints object (`subsets[].addresses`; `notReadyAddresses` are not
 * used), for apiservers that do not serve discovery.k8s.io/v1.
 */
export function fromEndpoints(endpoints: unknown, portOverride: number): Reading {
  const reading: Reading = { backends: [], problems: [] };
  if (!isObject(endpoints)) return { backends: [], problems: ['an Endpoints that is not an object'] };
  const name = nameOf(endpoints);
  for (const subset of arrayOf(endpoints['subsets'])) {
    if (!isObject(subset)) continue;
    const port = portOverride || portOf(subset['ports']);
    if (port === undefined) {
      reading.problems.push(`Endpoints ${name}: a subset without a port named ${PORT_NAME}`);
      continue;
    }
    for (const address of arrayOf(subset['addresses'])) {
      add(reading, isObject(address) ? address['ip'] : undefined, port, `Endpoints ${name}`);
    }
  }
  return finish(reading);
}

/** Sorted, one entry per address. */
function finish(reading: Reading): Reading {
  const seen = new Map<string, BackendConfig>();
  for (const b of reading.backends) if (!seen.has(addressKey(b))) seen.set(addressKey(b), b);
  reading.backends = [...seen.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return reading;
}

function add(reading: Reading, address: unknown, port: number, where: string): void {
  if (typeof address !== 'string' || (isIP(address) === 0 && !isDnsName(address))) {
    reading.problems.push(`${where}: ${JSON.stringify(address)} is not an address`);
    return;
  }
  // One spelling (lower case, shortest IPv6), so that one apiserver is one backend.
  const host = canonicalHost(address);
  reading.backends.push({ host, port, address: formatHostPort({ host, port }), priority: 0, weight: 1 });
}

/** The port named `https`, or the only port when there is one; undefined otherwise. */
function portOf(ports: unknown): number | undefined {
  const list = arrayOf(ports).filter(isObject);
  const named = list.find((p) => p['name'] === PORT_NAME) ?? (list.length === 1 ? list[0] : undefined);
  const port = named?.['port'];
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
}

/** `metadata.name` of a Kubernetes object, or `fallback` when it has none. */
export function nameOf(object: unknown, fallback = '(unnamed)'): string {
  const metadata = isObject(object) ? object['metadata'] : undefined;
  const name = isObject(metadata) ? metadata['name'] : undefined;
  return typeof name === 'string' ? name : fallback;
}


function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
