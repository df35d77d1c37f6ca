import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { Backend, BackendSession } from '../src/backends/backend.js';
import { BackendMetrics } from '../src/backends/metrics.js';
import { Pool } from '../src/backends/pool.js';
import type { Reason } from '../src/health/verdict.js';
import { logSink } from './helpers/logs.js';
import { testConfig } from './helpers/proxy.js';
import { waitUntil } from './helpers/wait.js';

// Every way a backend's sessions are ejected goes through the same spread: down by silence (the
// window ends the spread after the last good check) and the move of sessions stranded on a
// draining backend (the window starts at the move, after the grace time). Down by refusal ejects
// nothing. The pool and its backends are the product's; the sessions only record when they were
// told to leave, and the checks' verdicts are fed by hand (the checkers are not started).

interface Recorded extends BackendSession {
  closedAt: number | undefined;
}

function session(pinned = true): Recorded {
  const s: Recorded = {
    pinned,
    closedAt: undefined,
    onBackendDown(backend: Backend) {
      s.closedAt = Date.now();
      backend.detach(s);
    },
    onDrainTimeout: () => undefined,
    flushBytes: () => undefined,
    idleState: () => ({ established: pinned, idleMs: 0, lastFrom: 'none', pendingBytes: 0 }),
    onRebalance: () => undefined,
  };
  return s;
}

/** 0, 1/n, 2/n, ...: the moments of the spread are distinct and known. */
function steps(n: number): () => number {
  let i = 0;
  return () => (i++ % n) / n;
}

function pool(o: { ejectSpreadMs: number; random: () => number }) {
  const log = logSink('info');
  const config = testConfig({
    backends: ['127.0.0.1:1', '127.0.0.1:2'],
    ejectSpreadMs: o.ejectSpreadMs,
    // The grace before stranded sessions move is one interval and one timeout: 300 ms here.
    health: { rise: 1, fall: 1, intervalMs: 200, timeoutMs: 100 },
  });
  const p = new Pool(config, { log: log.logger, metrics: new BackendMetrics(new Registry()), random: o.random });
  const [a, b] = p.backends;
  assert.ok(a && b);
  const check = (backend: Backend, reason: Reason, at = Date.now(), durationMs = 1): void => {
    backend.recordCheck({ at, reason, durationMs, status: undefined });
  };
  check(a, 'ok');
  check(b, 'ok');
  return { pool: p, a, b, check, log };
}

test('down by silence: pinned sessions close at distinct moments within the spread of the last good check, unanswered ones at once', async () => {
  const { pool: p, a, check } = pool({ ejectSpreadMs: 800, random: steps(8) });
  try {
    const lastGood = Date.now();
    check(a, 'ok', lastGood);
    const pinned = Array.from({ length: 8 }, () => session());
    const unanswered = session(false);
    for (const s of [...pinned, unanswered]) a.attach(s);
    // The check that finds it silent started 100 ms after the last good one and took 100 ms.
    check(a, 'timeout', lastGood + 100, 100);
    const ejectedAt = Date.now();
    assert.equal(a.state.kind, 'down');
    assert.ok(unanswered.closedAt !== undefined && unanswered.closedAt - ejectedAt < 50, 'a session not yet answered moves at once');
    assert.ok(pinned.filter((s) => s.closedAt !== undefined).length <= 1, 'pinned sessions are not all closed at once');
    await waitUntil(() => pinned.every((s) => s.closedAt !== undefined), 'every pinned session closed', 5000);
    const moments = new Set(pinned.map((s) => s.closedAt));
    assert.ok(moments.size >= 4, `closed at ${moments.size} distinct moments`);
    // Timers may fire late on a loaded machine; never early.
    for (const s of pinned) assert.ok(s.closedAt! - lastGood <= 800 + 300, `closed ${s.closedAt! - lastGood} ms after the last good check`);
    assert.equal(a.activeSessions, 0);
  } finally {
    p.close();
  }
});

test('down by refusal ejects nothing, spread or not', async () => {
  const { pool: p, a, check } = pool({ ejectSpreadMs: 300, random: steps(4) });
  try {
    const sessions = Array.from({ length: 4 }, () => session());
    for (const s of sessions) a.attach(s);
    check(a, 'refused');
    assert.equal(a.state.kind, 'down');
    await sleep(500);
    assert.deepEqual(sessions.map((s) => s.closedAt), [undefined, undefined, undefined, undefined]);
  } finally {
    p.close();
  }
});

test('stranded sessions move after the grace time, spread over --eject-spread from the move', async () => {
  const { pool: p, a, check, log } = pool({ ejectSpreadMs: 800, random: steps(8) });
  try {
    const sessions = Array.from({ length: 8 }, () => session());
    for (const s of sessions) a.attach(s);
    const drainedAt = Date.now();
    check(a, 'etcd_failed', drainedAt);
    assert.equal(a.state.kind, 'draining');
    await sleep(200);
    assert.ok(sessions.every((s) => s.closedAt === undefined), 'nothing moves within the grace time');
    await log.waitFor({ event: 'backend_ejected', backend: a.address, sessions: 8, reason: 'etcd_failed' }, 3000);
    const movedAt = Date.now();
    await waitUntil(() => sessions.every((s) => s.closedAt !== undefined), 'every stranded session moved', 5000);
    const closed = sessions.map((s) => s.closedAt!);
    assert.ok(Math.min(...closed) - drainedAt >= 300, 'none before the grace time');
    assert.ok(new Set(closed).size >= 4, `moved at ${new Set(closed).size} distinct moments, not at once`);
    assert.ok(Math.max(...closed) - movedAt >= 400, 'the last one late in the window');
    assert.ok(Math.max(...closed) - movedAt <= 800 + 300, `the last one ${Math.max(...closed) - movedAt} ms after the move`);
  } finally {
    p.close();
  }
});

test('a backend up again while a spread eject is under way keeps the sessions not yet closed', async () => {
  // Every other session is closed at once (random 0), the others at 90 % of the window.
  let i = 0;
  const { pool: p, a, check, log } = pool({ ejectSpreadMs: 1000, random: () => (i++ % 2 === 0 ? 0 : 0.9) });
  try {
    const sessions = Array.from({ length: 6 }, () => session());
    for (const s of sessions) a.attach(s);
    check(a, 'etcd_failed');
    await log.waitFor({ event: 'backend_ejected', backend: a.address, reason: 'etcd_failed' }, 3000);
    const first = sessions.filter((s) => s.closedAt !== undefined).length;
    assert.equal(first, 3, 'half closed at the move');
    check(a, 'ok');
    assert.equal(a.state.kind, 'up');
    await sleep(1300);
    assert.equal(sessions.filter((s) => s.closedAt !== undefined).length, 3, 'the rest stay on the recovered backend');
    assert.equal(a.activeSessions, 3);
  } finally {
    p.close();
  }
});
