import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { httpBackend } from './helpers/backends.js';
import { connectOutcome, holdSession } from './helpers/held-session.js';
import { MAIN, cleanEnv } from './cli-spawn.js';
import { type LbProcess, jsonLines, startRun, within } from './helpers/lb-process.js';

/*
 * SIGTERM with a session in flight (DESIGN.md, "Proxy behaviour"): stop accepting at once, let
 * the open sessions run for --shutdown-grace, then close them; exit 0 either way.
 */

async function proxyInFront(t: TestContext, graceText: string): Promise<LbProcess> {
  const a = await httpBackend('a');
  t.after(() => a.close());
  const lb = await startRun(t, ['--backend', a.address, '--listen', '127.0.0.1:0', '--admin-listen', '',
    '--health-scheme', 'http', '--health-interval', '100ms', '--health-rise', '1', '--shutdown-grace', graceText]);
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  return lb;
}

test('SIGTERM: the open session is still answered, new connects are refused at once, exit 0 as soon as the last session closes', async (t) => {
  const lb = await proxyInFront(t, '1h');
  const session = await holdSession(lb.port);
  t.after(() => session.close());
  assert.equal(await session.ask(), 'a');

  lb.child.kill('SIGTERM');
  const shutdown = await lb.waitFor({ event: 'shutdown' });
  assert.equal(shutdown['sessions'], 1);
  assert.equal(shutdown['graceMs'], 3_600_000);
  assert.equal(await connectOutcome(lb.port), 'ECONNREFUSED', 'no new client is accepted');
  assert.equal(await session.ask(), 'a', 'a request sent after SIGTERM on the open connection is answered');
  assert.equal(lb.child.exitCode, null, 'still running while the session is open');

  // The client is done: the last session closes, and the process exits without waiting an hour.
  session.close();
  assert.deepEqual(await within(lb.exit, 'the process to exit after its last session closed'), { code: 0, signal: null });
  assert.equal(lb.stderr(), '');
});

test('SIGTERM: a session still open when the shutdown grace ends is closed, then the process exits 0', async (t) => {
  const graceMs = 1500;
  const lb = await proxyInFront(t, `${graceMs}ms`);
  const session = await holdSession(lb.port);
  t.after(() => session.close());
  assert.equal(await session.ask(), 'a');
  let closedAt = 0;
  void session.closed.then(() => (closedAt = Date.now()));

  lb.child.kill('SIGTERM');
  const shutdown = await lb.waitFor({ event: 'shutdown' });
  assert.equal(shutdown['graceMs'], graceMs);
  assert.equal(await connectOutcome(lb.port), 'ECONNREFUSED', 'no new client is accepted');
  assert.equal(await session.ask(), 'a', 'the session is served during the grace');

  // The client never lets go: the proxy closes the session when the grace ends.
  await within(session.closed, 'the proxy to close the session at the end of the grace');
  const shutdownAt = Date.parse(String(shutdown['time']));
  assert.ok(closedAt - shutdownAt >= graceMs - 50, `closed ${closedAt - shutdownAt} ms after SIGTERM, before the ${graceMs} ms grace`);
  assert.deepEqual(await within(lb.exit, 'the process to exit after the grace'), { code: 0, signal: null });
  assert.equal(lb.stderr(), '');
});

/**
 * systemd's part in a restart, played by a shell: it holds the listening socket (fd 3) and never
 * accepts on it, starts `kube-local-lb run` with LISTEN_FDS=1 and LISTEN_PID set, and when that
 * process exits starts it once more. Each start and exit is announced as a JSON line.
 */
const SERVICE_MANAGER = `for start in 1 2; do
  sh -c 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"' "$@" &
  echo "{\\"event\\":\\"test_service_started\\",\\"pid\\":$!}"
  wait $!
  echo "{\\"event\\":\\"test_service_exited\\",\\"code\\":$?}"
done`;

test('restart under socket activation: a client that connects while the old process stops is served by the new one', async (t) => {
  if (process.platform === 'win32') return t.skip('no socket activation');
  const a = await httpBackend('a');
  t.after(() => a.close());
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const manager = spawn('/bin/sh', ['-c', SERVICE_MANAGER, 'sh', process.execPath, MAIN, 'run', '--backend', a.address,
    '--admin-listen', '', '--health-scheme', 'http', '--health-interval', '100ms', '--health-rise', '1', '--shutdown-grace', '1h'],
  { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit', fd] });
  if (!manager.stdout) throw new Error('the manager\'s stdout is a pipe');
  const log = jsonLines(manager.stdout);
  t.after(() => {
    // Every process the manager started, whether or not the test got to look at it.
    for (const record of log.records.filter((r) => r['event'] === 'test_service_started')) {
      try {
        process.kill(Number(record['pid']), 'SIGKILL');
      } catch {
        // Already gone: it exited as the test meant it to.
      }
    }
    manager.kill('SIGKILL');
  });
  // From now on only the manager (and the service it starts) holds the socket: this process
  // must not accept on it.
  server.close();

  const first = await log.waitFor({ event: 'test_service_started' });
  await log.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  const session = await holdSession(port);
  t.after(() => session.close());
  assert.equal(await session.ask(), 'a');

  process.kill(Number(first['pid']), 'SIGTERM');
  await log.waitFor({ event: 'shutdown' });
  // Between the two processes the kernel completes the handshake and queues the connection in
  // the socket's backlog: the client is neither refused nor answered yet.
  const newcomer = await holdSession(port);
  t.after(() => newcomer.close());
  const answer = newcomer.ask('/', 15_000);
  assert.equal(await session.ask(), 'a', 'the old process still serves its session');
  const afterFirst = log.records.length;
  session.close();

  assert.equal((await log.waitFor({ event: 'test_service_exited' }, 15_000, afterFirst))['code'], 0);
  await log.waitFor({ event: 'test_service_started' }, 15_000, afterFirst);
  assert.equal(await answer, 'a', 'the queued client is served by the new process');
  const started = await log.waitFor({ event: 'started' }, 15_000, afterFirst);
  assert.equal(started['socketActivated'], true);
  newcomer.close();
});
