import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configChanges, sameValue } from '../src/config/changes.js';
import { testConfig } from './helpers/proxy.js';

const base = testConfig({ backends: ['10.0.0.1:6443', '10.0.0.2:6443'] });

test('a reload that changes nothing changes no section', () => {
  assert.deepEqual([...configChanges(base, testConfig({ backends: ['10.0.0.1:6443', '10.0.0.2:6443'] }))], []);
});

test('each changed section is named, and only those', () => {
  const next = { ...base, health: { ...base.health, intervalMs: 5000 }, adminListen: { host: '127.0.0.1', port: 9 },
    backends: base.backends.slice(0, 1) };
  assert.deepEqual(new Set(configChanges(base, next)), new Set(['health', 'adminListen', 'backends']));
  const discovery = { ...base, discovery: { ...base.discovery, enabled: !base.discovery.enabled } };
  assert.deepEqual([...configChanges(base, discovery)], ['discovery']);
});

test('values are compared by value: key order and undefined keys do not count, array order does', () => {
  assert.ok(sameValue({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 }));
  assert.ok(sameValue({ a: 1, b: undefined }, { a: 1 }));
  assert.ok(!sameValue([1, 2], [2, 1]));
  assert.ok(!sameValue({ a: 1 }, { a: '1' }));
  assert.ok(!sameValue(null, {}));
  assert.ok(!sameValue([], {}));
  assert.ok(sameValue(null, null));
});
