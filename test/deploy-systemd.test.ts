import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { MAIN, cleanEnv } from './cli-spawn.js';
import { childLines, exitOf } from './helpers/child-lines.js';
import { h1Request } from './fake-apiserver/index.js';
import { fakeCluster } from './helpers/cluster.js';
import { freePort } from './helpers/ports.js';
import { commandExists } from './helpers/command-exists.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVICE = join(ROOT, 'systemd/kube-local-lb.service');
const SOCKET = join(ROOT, 'systemd/kube-local-lb.socket');

/** `Key=value` lines of a unit file, every value of a repeated key in order. */
function directives(file: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match?.[1] !== undefined) map.set(match[1], [...(map.get(match[1]) ?? []), match[2] ?? '']);
  }
  return map;
}

test('systemd-analyze verify accepts the service and the socket', async (t) => {
  if (!commandExists('systemd-analyze')) return t.skip('systemd-analyze is not installed (Debian package systemd)');
  const dir = mkdtempSync(join(tmpdir(), 'klb-systemd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(SOCKET, join(dir, 'kube-local-lb.socket'));
  // verify also checks that ExecStart's program exists: where the executable is not installed,
  // the same command through node.
  const service = readFileSync(SERVICE, 'utf8');
  writeFileSync(join(dir, 'kube-local-lb.service'), existsSync('/usr/bin/kube-local-lb') ? service
    : service.replace('ExecStart=/usr/bin/kube-local-lb ', `ExecStart=${process.execPath} ${MAIN} `));
  const { stdout, stderr } = await run('systemd-analyze', ['verify', '--man=no', join(dir, 'kube-local-lb.socket'), join(dir, 'kube-local-lb.service')]);
  assert.equal(stderr, '');
  assert.equal(stdout, '');
});

test('the service restarts always, runs hardened, and never sets MemoryDenyWriteExecute (V8 needs W^X pages)', () => {
  const d = directives(SERVICE);
  const one = (key: string): string | undefined => d.get(key)?.at(-1);
  assert.equal(one('ExecStart'), '/usr/bin/kube-local-lb run --config /etc/kube-local-lb/config.yaml');
  assert.equal(one('Restart'), 'always');
  assert.equal(one('Requires'), 'kube-local-lb.socket');
  for (const [key, value] of [['DynamicUser', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['NoNewPrivileges', 'yes'],
    ['PrivateTmp', 'yes'], ['CapabilityBoundingSet', ''], ['SystemCallFilter', '@system-service']] as const) {
    assert.equal(one(key), value, key);
  }
  assert.deepEqual(one('RestrictAddressFamilies')?.split(' ').sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
  assert.equal(d.has('MemoryDenyWriteExecute'), false);
  assert.match(readFileSync(SERVICE, 'utf8'), /^# MemoryDenyWriteExecute is deliberately not set: V8 compiles JavaScript/m);
});

test('the socket listens where the example config does, and hands one listening socket to the service', () => {
  const d = directives(SOCKET);
  const config = parse(readFileSync(join(ROOT, 'static-pod/config.yaml'), 'utf8')) as { listen: string[] };
  assert.deepEqual(d.get('ListenStream'), config.listen);
  assert.deepEqual(d.get('Accept'), ['no']);
});

test('socket activation: systemd-socket-activate holds the port, the first client waits in its backlog and is served', async (t) => {
  if (!commandExists('systemd-socket-activate')) return t.skip('systemd-socket-activate is not installed (Debian package systemd)');
  const cluster = await fakeCluster(1, { startup: 'instant' });
  t.after(() => cluster.close());
  const [apiserver] = cluster.apiservers;
  assert.ok(apiserver);
  const ca = cluster.file('ca.crt', cluster.pki.ca.certPem);
  // A port that was free a moment ago: systemd-socket-activate binds it, as the .socket unit would.
  const port = await freePort();
  const child = spawn('systemd-socket-activate', ['--listen', `127.0.0.1:${port}`, process.execPath, MAIN, 'run',
    '--backend', apiserver.address, '--health-ca-file', ca, '--admin-listen', '127.0.0.1:0', '--listen', '127.0.0.1:1'],
  { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const err = childLines(child.stderr);
  await err.waitFor(new RegExp(`Listening on 127\\.0\\.0\\.1:${port}`));
  const out = childLines(child.stdout);
  // Nothing runs yet: this request starts kube-local-lb, which accepts it from the inherited socket.
  const answer = await h1Request({ port, caPem: cluster.pki.ca.certPem }, '/version');
  assert.deepEqual({ status: answer.status, by: String(answer.headers['x-fake-apiserver']) }, { status: 200, by: 'apiserver-1' });
  const started = JSON.parse((await out.waitFor(/"event":"started"/)).input) as { socketActivated: boolean; listen: string[] };
  assert.equal(started.socketActivated, true);
  assert.deepEqual(started.listen, [`127.0.0.1:${port}`], '--listen is ignored for the socket systemd passed');
  child.kill('SIGTERM');
  assert.deepEqual(await exitOf(child), { code: 0, signal: null });
});
