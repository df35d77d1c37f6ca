import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { httpBackend, refusedAddress, type HttpBackend } from './helpers/backends.js';
import { connectOutcome, holdSession, type HeldSession } from './helpers/held-session.js';
import { type LbProcess, startRun, within } from './helpers/lb-process.js';

/*
 * Reloads of a running `kube-local-lb run --config FILE` while sessions flow through it: what a
 * reload changes (backends, listen addresses) and what it must not touch (the sessions of
 * backends and addresses that stay, the running config when the new one is invalid).
 */

const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-reload-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface FileConfig {
  backends: string[];
  listen?: string[];
  drainTimeout?: string;
  /** Lines appended as they are (a broken value, say). */
  extra?: string[];
}

/**
 * Writes the config file the way an editor or a config manager should, atomically: the file is
 * never seen half written, so one edit is one reload.
 */
function writeConfig(path: string, c: FileConfig): void {
  const lines = [
    `listen: [${(c.listen ?? ['127.0.0.1:0']).join(', ')}]`,
    'adminListen: 127.0.0.1:0',
    'backends:',
    ...c.backends.map((b) => `  - ${b}`),
    `drainTimeout: ${c.drainTimeout ?? '1m'}`,
    'slowStart: 0s',
    'health:',
    '  scheme: http',
    '  interval: 100ms',
    '  timeout: 500ms',
    '  rise: 1',
    ...(c.extra ?? []),
  ];
  writeFileSync(`${path}.new`, `${lines.join('\n')}\n`);
  renameSync(`${path}.new`, path);
}

async function startWithFile(t: TestContext, name: string, c: FileConfig): Promise<{ lb: LbProcess; file: string }> {
  const file = join(dir, name);
  writeConfig(file, c);
  const lb = await startRun(t, ['--config', file]);
  return { lb, file };
}

/** How many records with these fields the process has logged. */
function count(lb: LbProcess, fields: Record<string, unknown>): number {
  return lb.records.filter((r) => Object.entries(fields).every(([k, v]) => r[k] === v)).length;
}

/** A new session through the proxy: which backend answers it. */
async function newSession(t: TestContext, port: number): Promise<string> {
  const s = await holdSession(port);
  t.after(() => s.close());
  const name = await s.ask();
  s.close();
  return name;
}

async function backends(t: TestContext, ...names: string[]): Promise<HttpBackend[]> {
  const list = await Promise.all(names.map((name) => httpBackend(name)));
  t.after(async () => {
    for (const b of list) await b.close();
  });
  return list;
}

async function held(t: TestContext, port: number): Promise<HeldSession> {
  const s = await holdSession(port);
  t.after(() => s.close());
  return s;
}

test('reload: an added backend gets new sessions at once, and the open sessions of the others go on', async (t) => {
  const [a, b] = await backends(t, 'a', 'b');
  if (!a || !b) throw new Error('two backends');
  const { lb, file } = await startWithFile(t, 'add.yaml', { backends: [a.address] });
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  const watch = await held(t, lb.port);
  assert.equal(await watch.ask(), 'a');

  writeConfig(file, { backends: [a.address, b.address] });
  await lb.waitFor({ event: 'config_reloaded' });
  await lb.waitFor({ event: 'backend_added', backend: b.address });
  await lb.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  // least-conn: a holds the open session, b none, so the next session is b's.
  assert.equal(await newSession(t, lb.port), 'b');
  assert.equal(await watch.ask(), 'a', 'the session opened before the reload still answers');
  assert.equal(await lb.metric('kube_local_lb_config_reloads_total', { result: 'applied' }), 1);
  assert.equal(count(lb, { event: 'backend_removed' }), 0);
});

test('reload: a removed backend\'s session is drained, not cut, and closed at the drain timeout; new sessions avoid it', async (t) => {
  const [a, b] = await backends(t, 'a', 'b');
  if (!a || !b) throw new Error('two backends');
  const drainMs = 2000;
  const { lb, file } = await startWithFile(t, 'remove.yaml', {
    backends: [a.address, `{address: ${b.address}, priority: 1}`], drainTimeout: `${drainMs}ms`,
  });
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  await lb.waitFor({ event: 'backend_state', backend: b.address, to: 'up' });
  const watch = await held(t, lb.port);
  assert.equal(await watch.ask(), 'a', 'priority 0 is preferred');
  let closedAt = 0;
  void watch.closed.then(() => (closedAt = Date.now()));

  writeConfig(file, { backends: [`{address: ${b.address}, priority: 1}`], drainTimeout: `${drainMs}ms` });
  const removed = await lb.waitFor({ event: 'backend_removed', backend: a.address });
  assert.equal(removed['sessions'], 1);
  await lb.waitFor({ event: 'config_reloaded' });

  assert.equal(await watch.ask(), 'a', 'the session on the removed backend keeps working');
  for (let i = 0; i < 5; i++) assert.equal(await newSession(t, lb.port), 'b', 'new sessions never go to the removed backend');
  assert.equal(closedAt, 0);

  await within(watch.closed, 'the drained session to be closed');
  // Closed by the drain timer, counted from the removal as the process logged it (same clock).
  const removedAt = Date.parse(String(removed['time']));
  assert.ok(closedAt - removedAt >= drainMs - 50, `closed ${closedAt - removedAt} ms after the removal, before the ${drainMs} ms drain timeout`);
  assert.equal(await newSession(t, lb.port), 'b');
});

test('reload: a broken config is refused, counted and logged with its key and value; old and new sessions keep flowing', async (t) => {
  const [a, b] = await backends(t, 'a', 'b');
  if (!a || !b) throw new Error('two backends');
  const { lb, file } = await startWithFile(t, 'broken.yaml', { backends: [a.address] });
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  const watch = await held(t, lb.port);
  assert.equal(await watch.ask(), 'a');

  // The broken edit also adds b: nothing of it may be applied.
  writeConfig(file, { backends: [a.address, b.address], extra: ['  fall: often'] });
  const rejected = await lb.waitFor({ event: 'config_rejected' });
  assert.equal(rejected['error'], `${file}: health.fall: "often" is not an integer from 1 to 10`);
  assert.equal(rejected['level'], 'error');
  assert.equal(await lb.metric('kube_local_lb_config_reloads_total', { result: 'rejected' }), 1);
  assert.equal(await lb.metric('kube_local_lb_config_reloads_total', { result: 'applied' }), 0);
  assert.equal(count(lb, { event: 'backend_added', backend: b.address }), 0);

  assert.equal(await watch.ask(), 'a', 'the open session answers');
  assert.equal(await newSession(t, lb.port), 'a', 'a new session is served, by the old config\'s backend');

  // Fixed: applied, and b joins.
  writeConfig(file, { backends: [a.address, b.address] });
  await lb.waitFor({ event: 'backend_added', backend: b.address });
  await lb.waitFor({ event: 'config_reloaded' });
  assert.equal(await lb.metric('kube_local_lb_config_reloads_total', { result: 'applied' }), 1);
  assert.equal(await watch.ask(), 'a');
});

test('reload: a changed listen address is bound and the old one closed, without dropping the sessions accepted there', async (t) => {
  const [a] = await backends(t, 'a');
  if (!a) throw new Error('a backend');
  const { lb, file } = await startWithFile(t, 'listen.yaml', { backends: [a.address] });
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  const oldPort = lb.port;
  const watch = await held(t, oldPort);
  assert.equal(await watch.ask(), 'a');

  const next = await refusedAddress();
  writeConfig(file, { backends: [a.address], listen: [next] });
  await lb.waitFor({ event: 'listening', address: next });
  await lb.waitFor({ event: 'config_reloaded' });
  const nextPort = Number(next.split(':')[1]);
  assert.equal(await newSession(t, nextPort), 'a', 'the new address serves');
  assert.equal(await connectOutcome(oldPort), 'ECONNREFUSED', 'the old address no longer accepts');
  assert.equal(await watch.ask(), 'a', 'the session accepted on the old address goes on');

  // A new address that cannot be bound: the reload is refused and nothing changes, the address
  // in use keeps serving (before, the old listener was closed first and nothing listened).
  const taken = net.createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.after(() => taken.close());
  const busy = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
  writeConfig(file, { backends: [a.address], listen: [busy] });
  const rejected = await lb.waitFor({ event: 'config_rejected' });
  assert.equal(rejected['error'], `file reload failed: listen EADDRINUSE: address already in use ${busy}`);
  assert.equal(await newSession(t, nextPort), 'a', 'the running address still serves');
  assert.equal(await watch.ask(), 'a');
  assert.equal(await lb.metric('kube_local_lb_config_reloads_total', { result: 'rejected' }), 1);
});
