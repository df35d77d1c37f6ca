import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { listenFdsFrom } from '../src/service/socket-activation.js';
import { ConfigError } from '../src/config/config-error.js';
import { loadConfig } from '../src/config/load.js';
import { DEFAULTS, type Config } from '../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('with one backend given, everything else is the documented default', () => {
  const config = loadConfig({ backend: '10.0.0.1:6443' }, {});
  const expected: Config = {
    ...DEFAULTS,
    listen: [{ host: '127.0.0.1', port: 6444 }],
    backends: [{ host: '10.0.0.1', port: 6443, address: '10.0.0.1:6443', priority: 0, weight: 1 }],
    health: { ...DEFAULTS.health },
    adminListen: { ...DEFAULTS.adminListen },
    configFile: undefined,
  };
  assert.deepEqual(config, expected);
});

test('loadConfig reads yargs-shaped flags: repeated flags as arrays, switches as "" or booleans', () => {
  const config = loadConfig(
    {
      _: [],
      $0: 'kube-local-lb',
      backend: ['10.0.0.1:6443', '[::1]:6443,priority=1'],
      listen: ['127.0.0.1:0', '[::1]:0'],
      'health-insecure-skip-verify': '',
      'admin-listen': '',
      'health-interval': ['5s', '50ms'],
    },
    {},
  );
  assert.deepEqual(config.backends.map((backend) => [backend.host, backend.port, backend.priority]), [
    ['10.0.0.1', 6443, 0],
    ['::1', 6443, 1],
  ]);
  assert.deepEqual(config.listen, [{ host: '127.0.0.1', port: 0 }, { host: '::1', port: 0 }]);
  assert.equal(config.health.insecureSkipVerify, true);
  assert.equal(config.adminListen, null);
  assert.equal(config.health.intervalMs, 50, 'a repeated single-value flag keeps the last');
  assert.equal(loadConfig({ backend: 'a:1', 'health-insecure-skip-verify': false }, {}).health.insecureSkipVerify, false);
});

test('paths in the file are relative to the file, paths in flags to the working directory', () => {
  writeFileSync(join(dir, 'token'), 'x\n');
  writeFileSync(join(dir, 'ca.crt'), 'x\n');
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'backends: [10.0.0.1:6443]\nhealth:\n  auth: token\n  tokenFile: token\n');
  const config = loadConfig({ config: file }, {});
  assert.equal(config.health.tokenFile, join(dir, 'token'));
  assert.equal(config.configFile, file);
  const relativeCa = join('.', 'ca.crt');
  const previous = process.cwd();
  process.chdir(dir);
  try {
    assert.equal(loadConfig({ config: 'config.yaml', 'health-ca-file': relativeCa }, {}).health.caFile, resolve(dir, 'ca.crt'));
  } finally {
    process.chdir(previous);
  }
});

test('the same sources read again give a new config: what a reload does', () => {
  const file = join(dir, 'reload.yaml');
  writeFileSync(file, 'backends: [10.0.0.1:6443]\n');
  assert.deepEqual(loadConfig({ config: file }, {}).backends.map((backend) => backend.address), ['10.0.0.1:6443']);
  writeFileSync(file, 'backends: [10.0.0.1:6443, 10.0.0.2:6443]\n');
  assert.deepEqual(loadConfig({ config: file }, {}).backends.map((backend) => backend.address), ['10.0.0.1:6443', '10.0.0.2:6443']);
  writeFileSync(file, 'backends: [10.0.0.1:6443\n');
  assert.throws(() => loadConfig({ config: file }, {}), ConfigError);
});

test('ConfigError: one line, value quoted and bounded, or left out when nothing was given', () => {
  assert.equal(new ConfigError('--health-interval', 'fast', 'is not a duration (e.g. 2s, 500ms)').message,
    '--health-interval: "fast" is not a duration (e.g. 2s, 500ms)');
  assert.equal(new ConfigError('f.yaml: health.fall', 11, 'is too high').message, 'f.yaml: health.fall: 11 is too high');
  assert.equal(new ConfigError('--backend', undefined, 'missing').message, '--backend: missing');
  const long = new ConfigError('k', 'x'.repeat(500), 'is long').message;
  assert.ok(long.length < 100, long);
  assert.equal(new ConfigError('k', 1n, 'is a BigInt').message, 'k: 1 is a BigInt');
});

test('socket activation: the descriptors systemd passed, only when LISTEN_PID is this process', () => {
  assert.deepEqual(listenFdsFrom({ LISTEN_PID: '42', LISTEN_FDS: '2' }, 42), [3, 4]);
  assert.equal(listenFdsFrom({ LISTEN_PID: '41', LISTEN_FDS: '2' }, 42), undefined, 'meant for another process');
  assert.equal(listenFdsFrom({ LISTEN_FDS: '2' }, 42), undefined);
  assert.equal(listenFdsFrom({}, 42), undefined);
  assert.equal(listenFdsFrom({ LISTEN_PID: '42', LISTEN_FDS: '0' }, 42), undefined);
  assert.throws(() => listenFdsFrom({ LISTEN_PID: '42', LISTEN_FDS: 'two' }, 42), {
    message: 'LISTEN_FDS: "two" is not a count of file descriptors (0-1024)',
  });
});
