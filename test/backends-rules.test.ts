import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { Pool } from '../src/backends/pool.js';
import { type Candidate, select } from '../src/backends/select.js';
import {
  type BackendState,
  type Streak,
  type Thresholds,
  eligibilityRank,
  nextCheck,
  nextState,
  nextStreak,
  rampAt,
  sessionFailureStreak,
  strandGraceMs,
} from '../src/backends/transitions.js';
import type { Reason } from '../src/health/verdict.js';
import { verdictOf } from '../src/health/verdict.js';
import { BackendMetrics } from '../src/backends/metrics.js';
import { logSink } from './helpers/logs.js';
import { testConfig } from './helpers/proxy.js';

// Deterministic tests of the pure rules: every arrow of the backend state machine, when the next
// check runs, which backends are eligible, and how each balance mode picks among them.

const T: Thresholds = { rise: 2, fall: 3, slowStartMs: 10_000 };
const NOW = 1_000_000;

const unknown: BackendState = { kind: 'unknown', since: 0 };
const up: BackendState = { kind: 'up', since: 0, slowStartEndsAt: 0 };
const draining: BackendState = { kind: 'draining', since: 0, reason: 'shutting_down' };
const down: BackendState = { kind: 'down', since: 0, reason: 'refused' };

/** Feeds verdicts one by one as Backend does: streak first, then the state; a change resets the streak. */
function feed(state: BackendState, reasons: readonly Reason[], t = T, now = NOW): { state: BackendState; steps: number } {
  let streak: Streak = { good: 0, bad: 0 };
  let steps = 0;
  for (const reason of reasons) {
    steps++;
    streak = nextStreak(streak, verdictOf(reason));
    const to = nextState(state, streak, reason, t, now);
    if (to !== state) return { state: to, steps };
  }
  return { state, steps };
}

const times = (n: number, r: Reason): Reason[] => Array.from({ length: n }, () => r);

test('unknown -> up on the first pass (no slow start: a cold node is served at once)', () => {
  const r = feed(unknown, ['ok']);
  assert.deepEqual(r, { state: { kind: 'up', since: NOW, slowStartEndsAt: NOW }, steps: 1 });
});

test('unknown -> up on the first 401/403 too: an answering apiserver stays in service', () => {
  assert.equal(feed(unknown, ['unauthorized']).state.kind, 'up');
  assert.equal(feed(unknown, ['forbidden']).state.kind, 'up');
});

test('unknown -> down after unreachable x fall, not before', () => {
  assert.deepEqual(feed(unknown, times(T.fall - 1, 'refused')).state, unknown);
  assert.deepEqual(feed(unknown, times(T.fall, 'timeout')), { state: { kind: 'down', since: NOW, reason: 'timeout' }, steps: T.fall });
});

test('unknown -> draining after fail x fall (answers, not ready)', () => {
  assert.deepEqual(feed(unknown, times(T.fall, 'shutting_down')).state, { kind: 'draining', since: NOW, reason: 'shutting_down' });
});

test('up -> draining after fail x fall', () => {
  assert.deepEqual(feed(up, times(T.fall - 1, 'unavailable')).state, up);
  assert.deepEqual(feed(up, times(T.fall, 'unavailable')), { state: { kind: 'draining', since: NOW, reason: 'unavailable' }, steps: T.fall });
});

test('up -> down after unreachable x fall', () => {
  assert.deepEqual(feed(up, times(T.fall - 1, 'connect_timeout')).state, up);
  assert.deepEqual(feed(up, times(T.fall, 'connect_timeout')).state, { kind: 'down', since: NOW, reason: 'connect_timeout' });
});

test('up holds while bad verdicts never string fall together (a flapping backend)', () => {
  const flapping: Reason[] = [];
  for (let i = 0; i < 20; i++) flapping.push(...times(T.fall - 1, 'refused'), 'ok');
  assert.deepEqual(feed(up, flapping), { state: up, steps: flapping.length });
});

test('up holds on 401/403 however many: the credential is the problem, not the apiserver', () => {
  assert.deepEqual(feed(up, times(50, 'forbidden')).state, up);
});

test('draining -> up after pass x rise, with slow start (it had no new sessions while draining)', () => {
  assert.deepEqual(feed(draining, times(T.rise - 1, 'ok')).state, draining);
  assert.deepEqual(feed(draining, times(T.rise, 'ok')), { state: { kind: 'up', since: NOW, slowStartEndsAt: NOW + T.slowStartMs }, steps: T.rise });
});

test('draining -> down after unreachable x fall; more fails keep it draining', () => {
  assert.deepEqual(feed(draining, times(T.fall, 'refused')).state, { kind: 'down', since: NOW, reason: 'refused' });
  assert.deepEqual(feed(draining, times(50, 'shutting_down')).state, draining);
});

test('down -> up after pass x rise, with slow start', () => {
  assert.deepEqual(feed(down, times(T.rise - 1, 'ok')).state, down);
  assert.deepEqual(feed(down, times(T.rise, 'ok')).state, { kind: 'up', since: NOW, slowStartEndsAt: NOW + T.slowStartMs });
});

test('down -> draining after fail x fall (it answers again, not ready yet); more unreachables keep it down', () => {
  assert.deepEqual(feed(down, times(T.fall, 'not_ready')).state, { kind: 'draining', since: NOW, reason: 'not_ready' });
  assert.deepEqual(feed(down, times(50, 'timeout')).state, down);
});

test('nextState returns the same object when nothing changes (callers compare by identity)', () => {
  for (const s of [unknown, up, draining, down]) {
    assert.equal(nextState(s, { good: 0, bad: 1 }, 'refused', { ...T, fall: 5 }, NOW), s);
  }
});

test('a good verdict resets the bad count and the other way round', () => {
  assert.deepEqual(nextStreak({ good: 0, bad: 4 }, 'pass'), { good: 1, bad: 0 });
  assert.deepEqual(nextStreak({ good: 3, bad: 0 }, 'unreachable'), { good: 0, bad: 1 });
  assert.deepEqual(nextStreak({ good: 3, bad: 0 }, 'unauthorized'), { good: 4, bad: 0 });
  assert.deepEqual(nextStreak({ good: 3, bad: 0 }, 'fail'), { good: 0, bad: 1 });
});

test("a session's failure counts as one unreachable verdict, never as the last of fall", () => {
  assert.deepEqual(sessionFailureStreak({ good: 2, bad: 0 }, 'refused', 3), { good: 0, bad: 1 });
  assert.deepEqual(sessionFailureStreak({ good: 0, bad: 1 }, 'refused', 3), { good: 0, bad: 2 });
  const capped = { good: 0, bad: 2 };
  assert.equal(sessionFailureStreak(capped, 'first_byte_timeout', 3), capped);
  // With fall 1 a session failure never counts: only a check can take the backend down.
  const fresh = { good: 0, bad: 0 };
  assert.equal(sessionFailureStreak(fresh, 'refused', 1), fresh);
  // ...and the check that follows does.
  const after = nextStreak(sessionFailureStreak({ good: 0, bad: 0 }, 'refused', 3), 'unreachable');
  assert.equal(nextState(up, nextStreak(after, 'unreachable'), 'refused', T, NOW).kind, 'down');
});

test('next check: a whole interval after a state change', () => {
  assert.equal(nextCheck(up, { good: 0, bad: 0 }, 'refused', T, NOW, true), 'interval');
});

test('next check: at once when a bad verdict starts a streak that would change the state', () => {
  assert.equal(nextCheck(up, { good: 0, bad: 2 }, 'refused', T, NOW, false), 'now');
  assert.equal(nextCheck(up, { good: 0, bad: 2 }, 'shutting_down', T, NOW, false), 'now');
});

test('next check: soon when a good verdict would bring the backend back if repeated', () => {
  assert.equal(nextCheck(down, { good: 1, bad: 0 }, 'ok', T, NOW, false), 'soon');
  assert.equal(nextCheck(draining, { good: 1, bad: 0 }, 'ok', T, NOW, false), 'soon');
});

test('next check: the interval when repeating the verdict changes nothing', () => {
  assert.equal(nextCheck(up, { good: 5, bad: 0 }, 'ok', T, NOW, false), 'interval');
  assert.equal(nextCheck(up, { good: 0, bad: 1 }, 'refused', T, NOW, false), 'interval');
  assert.equal(nextCheck(down, { good: 0, bad: 9 }, 'refused', T, NOW, false), 'interval');
  assert.equal(nextCheck(draining, { good: 0, bad: 9 }, 'shutting_down', T, NOW, false), 'interval');
});

test('stranded sessions: the grace alone for a fault of its own; half a shared outage on top, at most the drain timeout', () => {
  assert.equal(strandGraceMs(3_000, 0, 60_000), 3_000);
  assert.equal(strandGraceMs(3_000, 21_000, 60_000), 13_500);
  assert.equal(strandGraceMs(3_000, 600_000, 60_000), 60_000);
  // A drain timeout shorter than the grace never shortens the grace.
  assert.equal(strandGraceMs(3_000, 21_000, 1_000), 3_000);
});

test('eligibility: up before unknown before draining; down never', () => {
  assert.equal(eligibilityRank('up'), 0);
  assert.equal(eligibilityRank('unknown'), 1);
  assert.equal(eligibilityRank('draining'), 2);
  assert.equal(eligibilityRank('down'), undefined);
});

test('slow-start ramp: 1 outside slow start, linear inside, never below 5 %', () => {
  const ramping: BackendState = { kind: 'up', since: NOW, slowStartEndsAt: NOW + 10_000 };
  assert.equal(rampAt(up, 10_000, NOW), 1);
  assert.equal(rampAt(draining, 10_000, NOW), 1);
  assert.equal(rampAt(ramping, 10_000, NOW), 0.05);
  assert.equal(rampAt(ramping, 10_000, NOW + 2_500), 0.25);
  assert.equal(rampAt(ramping, 10_000, NOW + 7_500), 0.75);
  assert.equal(rampAt(ramping, 10_000, NOW + 10_000), 1);
  assert.equal(rampAt(ramping, 0, NOW), 1);
});

function candidate(address: string, o: Partial<Candidate> = {}): Candidate {
  return { address, priority: 0, weight: 1, activeSessions: 0, ramp: 1, suspect: false, ...o };
}

/** A `random` that returns the given values in turn, and fails the test when it runs out. */
function sequence(...values: number[]): () => number {
  return () => {
    const v = values.shift();
    assert.ok(v !== undefined, 'random called more often than expected');
    return v;
  };
}

test('select: nothing to pick from is undefined', () => {
  assert.equal(select([], 'least-conn', sequence(), { next: 0 }), undefined);
});

test('select least-conn: fewest sessions wins, scaled by weight', () => {
  const a = candidate('a', { activeSessions: 4 });
  const b = candidate('b', { activeSessions: 2 });
  const c = candidate('c', { activeSessions: 3 });
  assert.equal(select([a, b, c], 'least-conn', sequence(0.99), { next: 0 }), b);
  // weight 3 with 4 sessions: (4+1)/3 < (2+1)/1.
  const heavy = candidate('heavy', { activeSessions: 4, weight: 3 });
  assert.equal(select([heavy, b], 'least-conn', sequence(0), { next: 0 }), heavy);
});

test('select least-conn: ties are broken at random', () => {
  const a = candidate('a');
  const b = candidate('b');
  const c = candidate('c');
  assert.equal(select([a, b, c], 'least-conn', sequence(0), { next: 0 }), a);
  assert.equal(select([a, b, c], 'least-conn', sequence(0.5), { next: 0 }), b);
  assert.equal(select([a, b, c], 'least-conn', sequence(0.9), { next: 0 }), c);
});

test('select round-robin: the cursor walks the tier and wraps', () => {
  const tier = [candidate('a'), candidate('b'), candidate('c')];
  const cursor = { next: 1 };
  const picks = Array.from({ length: 5 }, () => select(tier, 'round-robin', sequence(), cursor)?.address);
  assert.deepEqual(picks, ['b', 'c', 'a', 'b', 'c']);
  assert.equal(cursor.next, 6);
});

test('select random: weighted by weight', () => {
  const a = candidate('a', { weight: 1 });
  const b = candidate('b', { weight: 3 });
  // total 4: [0,1) is a, [1,4) is b.
  assert.equal(select([a, b], 'random', sequence(0.2), { next: 0 }), a);
  assert.equal(select([a, b], 'random', sequence(0.26), { next: 0 }), b);
  assert.equal(select([a, b], 'random', sequence(0.99), { next: 0 }), b);
});

test('select: the best priority wins, whatever the load', () => {
  const preferred = candidate('p', { priority: 0, activeSessions: 100 });
  const other = candidate('o', { priority: 1 });
  for (const mode of ['least-conn', 'round-robin', 'random'] as const) {
    assert.equal(select([other, preferred], mode, () => 0.5, { next: 1 }), preferred, mode);
  }
});

test('select: a suspect backend only when nothing else is there', () => {
  const suspect = candidate('s', { suspect: true });
  const sure = candidate('ok', { activeSessions: 50 });
  assert.equal(select([suspect, sure], 'least-conn', sequence(0), { next: 0 }), sure);
  assert.equal(select([suspect], 'least-conn', sequence(0), { next: 0 }), suspect);
});

test('select: a ramping backend is skipped with probability 1 - ramp, unless it is all there is', () => {
  const ramping = candidate('r', { ramp: 0.25 });
  const steady = candidate('s', { activeSessions: 10 });
  // random 0.3 >= 0.25: skipped; then least-conn over what is left (one random for the tie).
  assert.equal(select([ramping, steady], 'least-conn', sequence(0.3, 0), { next: 0 }), steady);
  // random 0.2 < 0.25: kept, and it has fewer sessions.
  assert.equal(select([ramping, steady], 'least-conn', sequence(0.2, 0), { next: 0 }), ramping);
  // Skipped alone would leave nothing: it is used.
  assert.equal(select([ramping], 'least-conn', sequence(0.9, 0), { next: 0 }), ramping);
});

test('pool: picks by eligibility class, and ramps a recovered backend in by the clock it is given', () => {
  let now = NOW;
  let nextRandom = 0;
  const log = logSink('info');
  const config = testConfig({
    backends: ['127.0.0.1:1', '127.0.0.1:2'],
    balance: 'least-conn',
    slowStartMs: 10_000,
    health: { rise: 1, fall: 1 },
  });
  const pool = new Pool(config, { log: log.logger, metrics: new BackendMetrics(new Registry()), now: () => now, random: () => nextRandom });
  try {
    const [a, b] = pool.backends;
    assert.ok(a && b);
    const kindOf = (backend: typeof a): string => backend.state.kind;
    const check = (backend: typeof a, reason: Reason) => backend.recordCheck({ at: now, reason, durationMs: 1, status: undefined });
    // Both unknown: eligible (cold start).
    assert.ok(pool.pick(new Set()));
    check(a, 'ok');
    assert.equal(kindOf(a), 'up');
    // up beats unknown.
    assert.equal(pool.pick(new Set()), a);
    check(b, 'refused');
    assert.equal(kindOf(b), 'down');
    assert.equal(pool.pick(new Set([a])), undefined, 'a down backend is never picked');
    check(a, 'shutting_down');
    assert.equal(kindOf(a), 'draining');
    assert.equal(pool.panic, true);
    assert.equal(pool.pick(new Set()), a, 'panic: a draining backend beats nothing');
    // a recovers at once and ramps in over 10 s (from draining too); b recovers when a's ramp is over.
    check(a, 'ok');
    assert.deepEqual(a.state, { kind: 'up', since: NOW, slowStartEndsAt: NOW + 10_000 });
    now = NOW + 10_000;
    check(b, 'ok');
    assert.deepEqual(b.state, { kind: 'up', since: now, slowStartEndsAt: now + 10_000 });
    // a carries one session, so b wins least-conn whenever it competes.
    a.attach({ onBackendDown: () => undefined, onDrainTimeout: () => undefined, flushBytes: () => undefined, pinned: true,
      idleState: () => ({ established: true, idleMs: 0, lastFrom: 'none', pendingBytes: 0 }), onRebalance: () => undefined });
    now += 2_500;
    assert.equal(b.rampAt(now), 0.25);
    nextRandom = 0.3; // >= 0.25: b sits this one out
    assert.equal(pool.pick(new Set()), a);
    nextRandom = 0.2; // < 0.25: b competes, and has fewer sessions
    assert.equal(pool.pick(new Set()), b);
    now += 7_500;
    assert.equal(b.rampAt(now), 1);
    nextRandom = 0.99;
    assert.equal(pool.pick(new Set()), b, 'after slow start b is never skipped');
  } finally {
    pool.close();
  }
});
