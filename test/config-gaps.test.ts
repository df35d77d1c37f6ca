import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { parse } from 'yaml';
import { MAIN, cleanEnv, runMain } from './cli-spawn.js';
import { childLines, exitOf } from './helpers/child-lines.js';

test('--listen with a port alone says it has no host', async () => {
  const result = await runMain(['check-config', '--backend', '10.0.0.1:6443', '--listen', '6443']);
  assert.equal(result.code, 2);
  assert.equal(result.stderr, 'kube-local-lb: --listen: "6443" is a port alone: it has no host (HOST:PORT, e.g. 127.0.0.1:6444, [::1]:6444)\n');
});

test('a health timeout longer than the interval is said once at start, with what it costs', async (t) => {
  const child = spawn(process.execPath, [MAIN, 'run', '--backend', '127.0.0.1:1', '--listen', '127.0.0.1:0', '--admin-listen', '',
    '--health-interval', '1s', '--health-timeout', '3s', '--health-fall', '2'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const out = childLines(child.stdout);
  const line = (await out.waitFor(/"event":"health_timeout_exceeds_interval"/)).input;
  const record = JSON.parse(line) as { level: string; timeoutMs: number; intervalMs: number; msg: string };
  assert.equal(record.level, 'warn');
  assert.deepEqual([record.timeoutMs, record.intervalMs], [3000, 1000]);
  assert.match(record.msg, /found down after 2 x 3000 ms, not 2 x 1000 ms/);
  child.kill('SIGTERM');
  await exitOf(child);
});

test('check-config says the same of a health timeout longer than the interval, as a comment in a document that stays valid', async () => {
  const longer = await runMain(['check-config', '--backend', '10.0.0.1:6443', '--health-interval', '1s', '--health-timeout', '3s', '--health-fall', '2']);
  assert.equal(longer.code, 0, longer.stderr);
  const warnings = longer.stdout.split('\n').filter((l) => l.startsWith('# warning:'));
  assert.deepEqual(warnings, ['# warning: health checks time out after 3000 ms but are due every 1000 ms: ' +
    'a silent apiserver is found down after 2 x 3000 ms, not 2 x 1000 ms']);
  assert.equal((parse(longer.stdout) as { health: { timeout: string } }).health.timeout, '3s');
  const within = await runMain(['check-config', '--backend', '10.0.0.1:6443', '--health-interval', '2s', '--health-timeout', '2s']);
  assert.equal(within.code, 0, within.stderr);
  assert.doesNotMatch(within.stdout, /warning/);
});

test('a health timeout within the interval says nothing', async (t) => {
  const child = spawn(process.execPath, [MAIN, 'run', '--backend', '127.0.0.1:1', '--listen', '127.0.0.1:0', '--admin-listen', '',
    '--health-interval', '2s', '--health-timeout', '1s'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const out = childLines(child.stdout);
  await out.waitFor(/"event":"started"/);
  assert.equal(out.lines.some((l) => l.includes('health_timeout_exceeds_interval')), false);
  child.kill('SIGTERM');
  await exitOf(child);
});
