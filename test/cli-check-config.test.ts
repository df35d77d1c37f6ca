import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { runMain } from './cli-spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Runs check-config, expects success, and returns the printed config. */
async function effective(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const result = await runMain(['check-config', ...args], { env });
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  const document: unknown = parse(result.stdout);
  assert.ok(typeof document === 'object' && document !== null);
  return document as Record<string, unknown>;
}

test('flags win over variables, variables over the file, the file over defaults', async () => {
  const file = write(
    'precedence.yaml',
    [
      'backends: [10.0.0.1:6443]',
      'balance: random',
      'health:',
      '  interval: 5s',
      '  timeout: 3s',
      '  fall: 3',
      'maxConnections: 100',
    ].join('\n'),
  );
  const config = await effective(['--config', file, '--health-interval', '3s', '--max-connections', '300'], {
    KUBE_LOCAL_LB_HEALTH_INTERVAL: '4s',
    KUBE_LOCAL_LB_BACKEND: '10.0.0.2:6443,priority=1',
    KUBE_LOCAL_LB_MAX_CONNECTIONS: '200',
  });
  const health = config['health'] as Record<string, unknown>;
  assert.equal(health['interval'], '3s', 'flag over variable and file');
  assert.equal(config['maxConnections'], 300, 'flag over variable and file');
  assert.deepEqual(config['backends'], [{ address: '10.0.0.2:6443', priority: 1, weight: 1 }], 'variable over file; the list is replaced');
  assert.equal(health['timeout'], '3s', 'file over default');
  assert.equal(health['fall'], 3, 'file over default');
  assert.equal(config['balance'], 'random', 'file over default');
  assert.equal(health['rise'], 2, 'default');
  assert.equal(config['adminListen'], '127.0.0.1:9445', 'default');
});

test('the config file can come from KUBE_LOCAL_LB_CONFIG, and --config wins over it', async () => {
  const fromEnv = write('from-env.yaml', 'backends: [10.0.0.1:6443]\n');
  const fromFlag = write('from-flag.yaml', 'backends: [10.0.0.9:6443]\n');
  const viaEnv = await effective([], { KUBE_LOCAL_LB_CONFIG: fromEnv });
  assert.deepEqual(viaEnv['backends'], [{ address: '10.0.0.1:6443', priority: 0, weight: 1 }]);
  const viaFlag = await effective(['--config', fromFlag], { KUBE_LOCAL_LB_CONFIG: fromEnv });
  assert.deepEqual(viaFlag['backends'], [{ address: '10.0.0.9:6443', priority: 0, weight: 1 }]);
});

test('backend syntax: repeated flags, comma lists, options, IPv6 and DNS names', async () => {
  const config = await effective([
    '--backend', '10.0.0.1:6443',
    '--backend', '[fd00::2]:6443,priority=1,weight=3',
    '--backend', 'cp3.example.com:6443,weight=2,cp4.example.com:443',
  ]);
  assert.deepEqual(config['backends'], [
    { address: '10.0.0.1:6443', priority: 0, weight: 1 },
    { address: '[fd00::2]:6443', priority: 1, weight: 3 },
    { address: 'cp3.example.com:6443', priority: 0, weight: 2 },
    { address: 'cp4.example.com:443', priority: 0, weight: 1 },
  ]);
});

test('the file takes backends as strings or mappings', async () => {
  const file = write(
    'backends.yaml',
    ['backends:', '  - 10.0.0.1:6443', '  - 10.0.0.2:6443,priority=2', '  - {address: "[::1]:6443", priority: 1, weight: 5}'].join('\n'),
  );
  const config = await effective(['--config', file]);
  assert.deepEqual(config['backends'], [
    { address: '10.0.0.1:6443', priority: 0, weight: 1 },
    { address: '10.0.0.2:6443', priority: 2, weight: 1 },
    { address: '[::1]:6443', priority: 1, weight: 5 },
  ]);
});

test('an empty --admin-listen or variable disables the admin server', async () => {
  assert.equal((await effective(['--backend', '10.0.0.1:6443', '--admin-listen', '']))['adminListen'], '');
  assert.equal((await effective(['--backend', '10.0.0.1:6443'], { KUBE_LOCAL_LB_ADMIN_LISTEN: '' }))['adminListen'], '');
  assert.equal((await effective(['--backend', '10.0.0.1:6443', '--admin-listen', '[::1]:0']))['adminListen'], '[::1]:0');
});

test('a switch is true alone or with =true, false with =false or --no-', async () => {
  const skip = async (...args: string[]) =>
    ((await effective(['--backend', '10.0.0.1:6443', ...args]))['health'] as Record<string, unknown>)['insecureSkipVerify'];
  assert.equal(await skip(), false);
  assert.equal(await skip('--health-insecure-skip-verify'), true);
  assert.equal(await skip('--health-insecure-skip-verify=true'), true);
  assert.equal(await skip('--health-insecure-skip-verify', 'false'), false);
  assert.equal(await skip('--no-health-insecure-skip-verify'), false);
});

test('the benchmark adapter\'s command lines are accepted', async () => {
  const ca = write('ca.crt', 'not read here\n');
  const adapter = [
    '--listen', '127.0.0.1:16443', '--backend', '127.0.0.1:18081', '--backend', '127.0.0.1:18082',
    '--health-path', '/healthz', '--health-interval', '1s', '--health-timeout', '1s', '--health-fall', '2',
    '--health-rise', '1', '--connect-timeout', '1s', '--admin-listen', '127.0.0.1:0', '--log-level', 'warn',
    '--health-scheme', 'http',
  ];
  const config = await effective(adapter);
  assert.equal((config['health'] as Record<string, unknown>)['interval'], '1s');
  // A check interval shorter than the check timeout is accepted: checks of one backend do not overlap.
  const fast = await effective([...adapter, '--health-interval', '50ms']);
  assert.equal((fast['health'] as Record<string, unknown>)['interval'], '50ms');
  const tls = await effective([...adapter.slice(0, -2), '--health-ca-file', ca, '--health-tls-server-name', 'kubernetes']);
  assert.equal((tls['health'] as Record<string, unknown>)['caFile'], ca);
});

test('check-config prints credential file paths, never their contents', async () => {
  const token = write('token', 's3cr3t-bearer-token\n');
  const kubeconfig = write(
    'kubelet.conf',
    ['apiVersion: v1', 'kind: Config', 'users:', '- name: u', '  user:', '    token: s3cr3t-kubeconfig-token', '    client-key-data: UzNDUjNU'].join('\n'),
  );
  for (const args of [
    ['--health-auth', 'token', '--health-token-file', token],
    ['--health-auth', 'kubeconfig', '--health-kubeconfig', kubeconfig],
  ]) {
    const result = await runMain(['check-config', '--backend', '10.0.0.1:6443', ...args]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.includes(args[3] ?? ''), 'the path is shown');
    assert.ok(!/s3cr3t|UzNDUjNU/.test(result.stdout), result.stdout);
  }
});

test('the printed config is a config file that reads back to the same config', async () => {
  const token = write('token-roundtrip', 'x\n');
  const first = await runMain([
    'check-config', '--backend', '10.0.0.1:6443,priority=1,weight=2', '--backend', '[::1]:6443',
    '--listen', '127.0.0.1:6443', '--listen', '[::1]:6443', '--health-auth', 'token', '--health-token-file', token,
    '--health-interval', '1m30s', '--drain-timeout', '0', '--admin-listen', '', '--log-level', 'debug',
  ]);
  assert.equal(first.code, 0, first.stderr);
  const file = write('roundtrip.yaml', first.stdout);
  const second = await runMain(['check-config', '--config', file]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, first.stdout);
  assert.equal(readFileSync(file, 'utf8'), second.stdout);
});

test('discovery settings: printed as file keys, the state directory made absolute, read back the same', async () => {
  const stateDir = join(dir, 'state');
  const first = await runMain(['check-config', '--backend', '10.0.0.1:6443', '--discover', '--discover-port-override', '6443', '--state-dir', stateDir]);
  assert.equal(first.code, 0, first.stderr);
  const config = parse(first.stdout) as Record<string, unknown>;
  assert.deepEqual([config['discover'], config['discoverPortOverride'], config['stateDir']], [true, 6443, stateDir]);
  const file = write('discovery.yaml', first.stdout);
  const second = await runMain(['check-config', '--config', file]);
  assert.equal(second.stdout, first.stdout);
  const defaults = parse((await runMain(['check-config', '--backend', '10.0.0.1:6443'])).stdout) as Record<string, unknown>;
  assert.deepEqual([defaults['discover'], defaults['discoverPortOverride'], defaults['stateDir']], [false, 0, '']);
});
