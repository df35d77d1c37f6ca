import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { httpBackend } from './helpers/backends.js';
import { connectOutcome, holdSession } from './helpers/held-session.js';
import { type LbProcess, startRun, within } from './helpers/lb-process.js';

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
