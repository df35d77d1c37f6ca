import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMain } from './cli-spawn.js';
import { httpBackend, refusedAddress } from './helpers/backends.js';
import { holdSession } from './helpers/held-session.js';
import { startRun } from './helpers/lb-process.js';

/** `kube-local-lb run` in front of plain-HTTP backends, with fast checks and its admin endpoint on a free port. */
const RUN = ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--health-scheme', 'http',
  '--health-interval', '100ms', '--health-timeout', '500ms', '--health-rise', '1', '--slow-start', '0s'];

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The table row of `address`, split on the column gaps. */
function row(stdout: string, address: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${address} `));
  assert.ok(line, `a row for ${address} in:\n${stdout}`);
  return line.split(/ {3,}/);
}

test('status: a table of the states; a crashed backend is down with "connection refused"; exit 0 while one is eligible, 1 when none is', async (t) => {
  const a = await httpBackend('a');
  const b = await httpBackend('b');
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const lb = await startRun(t, ['--backend', a.address, '--backend', `${b.address},priority=1`, ...RUN]);
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  await lb.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  const held = await holdSession(lb.port);
  t.after(() => held.close());
  assert.equal(await held.ask(), 'a', 'priority 0 is preferred');

  let result = await runMain(['status', '--admin', lb.admin]);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0, result.stdout);
  const lines = result.stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^BACKEND +STATE +SINCE +SESSIONS +PRIORITY +LATENCY +LAST CHECK$/);
  assert.equal(lines.length, 3, 'a header and one row per backend, no note while all is well');
  const [address, state, since, sessions, priority, latency, check] = row(result.stdout, a.address);
  assert.deepEqual([address, state, sessions, priority, check], [a.address, 'up', '1', '0', 'pass 200: ready']);
  assert.match(since ?? '', /^\d+s$/);
  assert.match(latency ?? '', /^\d+(\.\d)?ms$/);
  assert.deepEqual(row(result.stdout, b.address).filter((_, i) => [1, 3, 4].includes(i)), ['up', '0', '1']);

  await b.crash();
  await lb.waitFor({ event: 'backend_state', backend: b.address, to: 'down' });
  result = await runMain(['status', '--admin', lb.admin]);
  assert.equal(result.code, 0, result.stdout);
  const down = row(result.stdout, b.address);
  assert.equal(down[1], 'down');
  assert.equal(down[6], 'unreachable: connection refused');

  await a.crash();
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'down' });
  result = await runMain(['status', '--admin', lb.admin]);
  assert.equal(result.code, 1, result.stdout);
  assert.equal(result.stderr, '');
  assert.equal(row(result.stdout, a.address)[6], 'unreachable: connection refused');
  assert.equal(row(result.stdout, a.address)[3], '0', 'its session was closed with it');
  assert.match(result.stdout, /\nno backend is eligible: every backend is down, every new client connection is closed at once\n$/);

  // The same, as JSON: what /backends serves, parsed.
  result = await runMain(['status', '--admin', lb.admin, '--output', 'json']);
  assert.equal(result.code, 1);
  const document = JSON.parse(result.stdout) as { panic: boolean; backends: { address: string; state: string; lastCheck: { reason: string } }[] };
  assert.equal(document.panic, false);
  assert.deepEqual(document.backends.map((v) => [v.address, v.state, v.lastCheck.reason]),
    [[a.address, 'down', 'refused'], [b.address, 'down', 'refused']]);

  await a.revive();
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  result = await runMain(['status', '-o', 'json', '--admin', lb.admin]);
  assert.equal(result.code, 0);
  assert.equal((JSON.parse(result.stdout) as { backends: { state: string }[] }).backends[0]?.state, 'up');
});

test('status: a line for a rejected probe credential, and one for panic mode, which still exits 0', async (t) => {
  const a = await httpBackend('a');
  const b = await httpBackend('b');
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const lb = await startRun(t, ['--backend', a.address, '--backend', b.address, ...RUN]);
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  await lb.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });

  // Refused by b while a accepts it: b is not ready (a starting apiserver answers 403 until its
  // RBAC caches sync), and gets no new sessions.
  b.setHealth(401, 'Unauthorized');
  await lb.waitFor({ event: 'backend_check_unauthorized', backend: b.address });
  await lb.waitFor({ event: 'backend_state', backend: b.address, to: 'draining' });
  let result = await runMain(['status', '--admin', lb.admin]);
  assert.equal(result.code, 0, result.stdout);
  assert.deepEqual(row(result.stdout, b.address).filter((_, i) => [1, 6].includes(i)),
    ['draining', 'fail 401: probe credential refused here but accepted by another backend: not ready']);
  // Refused by every backend: a credential problem, which must not black out the node.
  a.setHealth(401, 'Unauthorized');
  await lb.waitFor({ event: 'backend_check_unauthorized', backend: a.address });
  await lb.waitFor({ event: 'backend_state', backend: b.address, from: 'draining', to: 'up' });
  result = await runMain(['status', '--admin', lb.admin]);
  assert.equal(result.code, 0, result.stdout);
  for (const backend of [a, b]) {
    assert.deepEqual(row(result.stdout, backend.address).filter((_, i) => [1, 6].includes(i)), ['up', 'unauthorized 401: probe credential rejected (401)']);
  }
  assert.match(result.stdout, new RegExp(`\\nprobe credential \\(anonymous\\) rejected \\(401/403\\) by (${escape(a.address)}, ${escape(b.address)}|${escape(b.address)}, ${escape(a.address)}): ` +
    'they stay in service, unchecked; see the log event backend_check_unauthorized\\n$'));

  // Every backend answers, none is ready (etcd down): panic, draining backends are the last resort.
  a.setHealth(500);
  b.setHealth(500);
  await lb.waitFor({ event: 'panic_entered' });
  result = await runMain(['status', '--admin', lb.admin]);
  assert.equal(result.code, 0, result.stdout);
  assert.deepEqual(row(result.stdout, a.address).filter((_, i) => [1, 6].includes(i)),
    ['draining', 'fail 500: health endpoint answered 500: not ready or shutting down']);
  assert.match(result.stdout, /\nPANIC: no backend is up; new sessions go to draining backends \(they answer, but are not ready\)\n/);
});

test('status: a bad flag exits 2 naming it and its value; an admin endpoint that does not answer exits 1 saying where', async () => {
  const bad: [string[], string][] = [
    [['--output', 'yaml'], '--output: "yaml" is not one of table, json'],
    [['--admin', '127.0.0.1:9445'], '--admin: "127.0.0.1:9445" is not a URL (e.g. http://127.0.0.1:9445)'],
    [['--admin', 'https://127.0.0.1:9445'], '--admin: "https://127.0.0.1:9445" is not an http:// URL (e.g. http://127.0.0.1:9445)'],
    [['--admin', ''], '--admin: "" is not a URL (e.g. http://127.0.0.1:9445)'],
    [['--output'], '--output: missing value'],
    [['--ouput', 'json'], '--ouput: unknown flag (see --help)'],
  ];
  for (const [args, line] of bad) {
    const result = await runMain(['status', ...args]);
    assert.equal(result.stderr, `kube-local-lb: ${line}\n`, args.join(' '));
    assert.equal(result.code, 2, args.join(' '));
    assert.equal(result.stdout, '');
  }

  const nobody = await refusedAddress();
  const result = await runMain(['status', '--admin', `http://${nobody}`]);
  assert.equal(result.stderr, `kube-local-lb: cannot reach the admin endpoint http://${nobody}/backends: connection refused; ` +
    'is kube-local-lb running with --admin-listen enabled (default 127.0.0.1:9445, "" disables it) at that address? Point --admin at it\n');
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
});

test('status: an endpoint that is not kube-local-lb\'s admin endpoint exits 1 saying so', async (t) => {
  const other = await httpBackend('not-admin');
  t.after(() => other.close());
  // An httpBackend answers its name to /backends: not a backend list.
  const result = await runMain(['status', '--admin', `http://${other.address}`]);
  assert.equal(result.stderr, `kube-local-lb: http://${other.address}/backends did not answer a backend list: ` +
    `is http://${other.address} kube-local-lb's admin endpoint (its --admin-listen)?\n`);
  assert.equal(result.code, 1);
});
