import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from '../src/discovery/backoff.js';
import { fromEndpointSlices, fromEndpoints } from '../src/discovery/endpoints.js';

const slice = (fields: Record<string, unknown>): Record<string, unknown> => ({
  metadata: { name: 'kubernetes' },
  addressType: 'IPv4',
  ports: [{ name: 'https', protocol: 'TCP', port: 6443 }],
  endpoints: [],
  ...fields,
});

test('EndpointSlices: ready endpoints (unset means ready), first address, the https port, one backend per address', () => {
  const reading = fromEndpointSlices([
    slice({ endpoints: [
      { addresses: ['10.0.0.12'], conditions: { ready: true } },
      { addresses: ['10.0.0.11', '10.9.9.9'] },
      { addresses: ['10.0.0.13'], conditions: { ready: false, terminating: true } },
    ] }),
    slice({ metadata: { name: 'kubernetes-extra' }, ports: [{ name: 'metrics', port: 9090 }, { name: 'https', port: 6443 }],
      endpoints: [{ addresses: ['10.0.0.12'] }] }),
  ], 0);
  assert.deepEqual(reading.backends.map((b) => b.address), ['10.0.0.11:6443', '10.0.0.12:6443']);
  assert.deepEqual(reading.backends[0], { host: '10.0.0.11', port: 6443, address: '10.0.0.11:6443', priority: 0, weight: 1 });
  assert.deepEqual(reading.problems, []);
});

test('EndpointSlices: IPv6 in its shortest form and in brackets; the override replaces the port', () => {
  const reading = fromEndpointSlices([slice({ addressType: 'IPv6', endpoints: [{ addresses: ['FD00:0:0::11'] }] })], 7443);
  assert.deepEqual(reading.backends.map((b) => [b.host, b.address]), [['fd00::11', '[fd00::11]:7443']]);
});

test('EndpointSlices: what cannot be used is reported, never thrown', () => {
  const reading = fromEndpointSlices([
    slice({ addressType: 'Carrier-Pigeon', endpoints: [{ addresses: ['10.0.0.1'] }] }),
    slice({ ports: [{ name: 'a', port: 1 }, { name: 'b', port: 2 }], endpoints: [{ addresses: ['10.0.0.2'] }] }),
    slice({ endpoints: [{ addresses: ['not an address!'] }, { addresses: [] }, 'junk'] }),
    42,
  ], 0);
  assert.deepEqual(reading.backends, []);
  assert.deepEqual(reading.problems, [
    'EndpointSlice kubernetes: unknown addressType "Carrier-Pigeon"',
    'EndpointSlice kubernetes: no port named https',
    'EndpointSlice kubernetes: "not an address!" is not an address',
    'EndpointSlice kubernetes: undefined is not an address',
    'an EndpointSlice that is not an object',
  ]);
  // A single port, whatever its name, is the port.
  assert.deepEqual(fromEndpointSlices([slice({ ports: [{ port: 443 }], endpoints: [{ addresses: ['10.0.0.3'] }] })], 0).backends.map((b) => b.address), ['10.0.0.3:443']);
});

test('Endpoints: ready addresses of every subset; notReadyAddresses and a missing subsets are nothing', () => {
  const reading = fromEndpoints({
    metadata: { name: 'kubernetes' },
    subsets: [{ addresses: [{ ip: '10.0.0.11' }, { ip: '10.0.0.12' }], notReadyAddresses: [{ ip: '10.0.0.13' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }],
  }, 0);
  assert.deepEqual(reading.backends.map((b) => b.address), ['10.0.0.11:6443', '10.0.0.12:6443']);
  assert.deepEqual(fromEndpoints({ metadata: { name: 'kubernetes' } }, 0), { backends: [], problems: [] });
  assert.deepEqual(fromEndpoints(undefined, 0).backends, []);
});

test('backoff: 0.8 s doubling to 30 s, each wait between the base and twice it', () => {
  const low = (n: number): number => backoffDelay(n, () => 0);
  const high = (n: number): number => backoffDelay(n, () => 0.999);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map(low), [800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
  assert.deepEqual([1, 2, 6].map(high), [1599, 3198, 30_000]);
  assert.equal(backoffDelay(1, () => 0.5, { initialMs: 10, maxMs: 100 }), 15);
});
