import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ejectDelays, ejectWindowMs } from '../src/backends/eject-spread.js';
import {
  type IdleState,
  type RebalanceBackend,
  firstLookMs,
  isBalanced,
  isQuiet,
  nextLookMs,
  planRebalance,
} from '../src/backends/rebalance.js';

const QUIET = 2000;
const quietState = (idleMs = 5000): IdleState => ({ established: true, idleMs, lastFrom: 'backend', pendingBytes: 0 });
/** The client sent a request and the answer has not come: idle for as long as the backend takes. */
const inFlight = (idleMs = 60_000): IdleState => ({ established: true, idleMs, lastFrom: 'client', pendingBytes: 0 });

function backend(address: string, sessions: IdleState[], extra: Partial<RebalanceBackend<string>> = {}): RebalanceBackend<string> {
  return {
    address,
    priority: 0,
    weight: 1,
    eligible: true,
    ramping: false,
    settling: false,
    count: sessions.length,
    sessions: sessions.map((idle, i) => ({ session: `${address}#${i}`, idle })),
    ...extra,
  };
}

test('the quiet rule: only an established session, silent for the quiet time, whose last bytes came from the backend', () => {
  assert.equal(isQuiet(quietState(QUIET), QUIET), true);
  assert.equal(isQuiet(quietState(QUIET - 1), QUIET), false, 'not quiet long enough');
  assert.equal(isQuiet(inFlight(10 * QUIET), QUIET), false, 'a request waits for its answer, however long');
  assert.equal(isQuiet({ ...quietState(), lastFrom: 'none' }, QUIET), false, 'nothing moved yet');
  assert.equal(isQuiet({ ...quietState(), established: false }, QUIET), false, 'not answered yet: it would replay, not move');
  assert.equal(isQuiet({ ...quietState(), pendingBytes: 1 }, QUIET), false, 'bytes still queued in the proxy');
});

test('a session with a request in flight is never closed, however uneven the backends', () => {
  const plan = planRebalance([backend('a', [inFlight(), inFlight(), inFlight(), inFlight()]), backend('b', [])], { quietMs: QUIET, panic: false });
  assert.deepEqual(plan, { kind: 'wait', from: 'a' });
});

test('property: whatever the sessions, a closed one is quiet, its backend uneven by more than one, its target the least loaded', () => {
  const idle = fc.record({
    established: fc.boolean(),
    idleMs: fc.integer({ min: 0, max: 10_000 }),
    lastFrom: fc.constantFrom('client' as const, 'backend' as const, 'none' as const),
    pendingBytes: fc.constantFrom(0, 0, 0, 1, 65536),
  });
  const back = fc.record({
    sessions: fc.array(idle, { maxLength: 12 }),
    priority: fc.constantFrom(0, 0, 1),
    eligible: fc.boolean(),
  });
  fc.assert(fc.property(fc.array(back, { minLength: 1, maxLength: 5 }), fc.boolean(), (specs, panic) => {
    const backends = specs.map((s, i) => backend(`b${i}`, s.sessions, { priority: s.priority, eligible: s.eligible }));
    const plan = planRebalance(backends, { quietMs: QUIET, panic });
    if (plan.kind !== 'close') return;
    assert.equal(panic, false, 'never in panic');
    const from = backends.find((b) => b.address === plan.from)!;
    const chosen = from.sessions.find((s) => s.session === plan.session)!;
    assert.ok(isQuiet(chosen.idle, QUIET), `closed a session that is not quiet: ${JSON.stringify(chosen.idle)}`);
    assert.notEqual(chosen.idle.lastFrom, 'client');
    const best = Math.min(...backends.filter((b) => b.eligible).map((b) => b.priority));
    const tier = backends.filter((b) => b.eligible && b.priority === best);
    const to = backends.find((b) => b.address === plan.to)!;
    assert.ok(tier.includes(to), 'moves to the best tier');
    assert.equal(to.count, Math.min(...tier.map((b) => b.count)), 'to the least loaded');
    if (plan.why === 'uneven') assert.ok(from.count > to.count + 1, `${from.count} vs ${to.count} is within one`);
    else assert.ok(from.priority > best);
  }), { numRuns: 2000 });
});

test('within one session of even is balanced; the busiest gives its quietest session', () => {
  const o = { quietMs: QUIET, panic: false };
  assert.deepEqual(planRebalance([backend('a', [quietState(), quietState()]), backend('b', [quietState()])], o), { kind: 'balanced' });
  const plan = planRebalance([backend('a', [quietState(3000), inFlight(), quietState(9000)]), backend('b', [quietState()]), backend('c', [])], o);
  assert.deepEqual(plan, { kind: 'close', from: 'a', to: 'c', session: 'a#2', idleMs: 9000, why: 'uneven' });
  assert.equal(isBalanced([{ count: 4, weight: 1 }, { count: 3, weight: 1 }, { count: 3, weight: 1 }]), true);
  assert.equal(isBalanced([{ count: 5, weight: 1 }, { count: 5, weight: 1 }, { count: 0, weight: 1 }]), false);
  assert.equal(isBalanced([{ count: 4, weight: 2 }, { count: 2, weight: 1 }]), true, 'weights count');
});

test('never in panic, never while a backend of the tier ramps up or has been up for less than --rebalance-after, nothing when no backend is eligible', () => {
  const uneven = () => [backend('a', [quietState(), quietState(), quietState()]), backend('b', [])];
  assert.deepEqual(planRebalance(uneven(), { quietMs: QUIET, panic: true }), { kind: 'off', why: 'panic' });
  const ramping = uneven();
  ramping[1] = { ...ramping[1]!, ramping: true };
  assert.deepEqual(planRebalance(ramping, { quietMs: QUIET, panic: false }), { kind: 'off', why: 'ramping' });
  const settling = uneven();
  settling[1] = { ...settling[1]!, settling: true };
  assert.deepEqual(planRebalance(settling, { quietMs: QUIET, panic: false }), { kind: 'off', why: 'settling' }, 'up for less than --rebalance-after');
  const none = uneven().map((b) => ({ ...b, eligible: false }));
  assert.deepEqual(planRebalance(none, { quietMs: QUIET, panic: false }), { kind: 'off', why: 'no_tier' });
  // A backend that is not eligible (down, draining, suspect) gets nothing and gives nothing here:
  // its sessions are the eject's and the drain's business.
  const target = uneven();
  target[1] = { ...target[1]!, eligible: false };
  assert.deepEqual(planRebalance(target, { quietMs: QUIET, panic: false }), { kind: 'balanced' });
});

test('sessions left on a worse priority move back first, one quiet one at a time', () => {
  const o = { quietMs: QUIET, panic: false };
  const backup = backend('backup', [inFlight(), quietState(4000)], { priority: 1 });
  const plan = planRebalance([backend('a', [quietState(), quietState(), quietState()]), backend('b', []), backup], o);
  assert.deepEqual(plan, { kind: 'close', from: 'backup', to: 'b', session: 'backup#1', idleMs: 4000, why: 'worse_priority' });
  const busy = backend('backup', [inFlight()], { priority: 1 });
  assert.deepEqual(planRebalance([backend('a', []), busy], o), { kind: 'wait', from: 'backup' });
});

test('pacing: a whole turn within ±50% after a close, a short look while waiting for a quiet session', () => {
  const o = { intervalMs: 10_000, quietMs: QUIET };
  const close = { kind: 'close', from: 'a', to: 'b', session: 'x', idleMs: 1, why: 'uneven' } as const;
  assert.equal(nextLookMs(close, o, () => 0), 5000);
  assert.equal(nextLookMs(close, o, () => 0.999999), 15_000);
  assert.equal(nextLookMs({ kind: 'balanced' }, o, () => 0.5), 10_000);
  assert.equal(nextLookMs({ kind: 'wait', from: 'a' }, o, () => 0), 500);
  assert.equal(nextLookMs({ kind: 'wait', from: 'a' }, { intervalMs: 10_000, quietMs: 100 }, () => 0), 100);
  assert.equal(nextLookMs({ kind: 'wait', from: 'a' }, { intervalMs: 10_000, quietMs: 60_000 }, () => 0), 1000);
  assert.equal(firstLookMs(10_000, () => 0.25), 2500);
  assert.equal(firstLookMs(10_000, () => 0), 1);
});

test('eject spread: the window ends the spread after the last good check, and is empty when detection took longer', () => {
  assert.equal(ejectWindowMs(10_000, 9000, 3000), 2000);
  assert.equal(ejectWindowMs(10_000, 6000, 3000), 0, 'detection took 4 s: everything now');
  assert.equal(ejectWindowMs(10_000, undefined, 3000), 0, 'never seen working: everything now');
  assert.equal(ejectWindowMs(10_000, 9000, 0), 0, 'spread off');
  let r = 0;
  const random = () => (r = (r + 0.37) % 1);
  const delays = ejectDelays({ count: 50, now: 10_000, lastGoodAt: 9000, spreadMs: 3000, random });
  assert.equal(delays.length, 50);
  for (const d of delays) assert.ok(d >= 0 && d < 2000, `delay ${d}`);
  assert.ok(new Set(delays).size > 10, 'spread out, not one moment');
  assert.deepEqual(ejectDelays({ count: 3, now: 10_000, lastGoodAt: 5000, spreadMs: 3000, random }), [0, 0, 0]);
});

test('property: every ejected session is closed within the spread of the last good check, or at once', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 0.9999999, noNaN: true }),
    (count, detectMs, spreadMs, x) => {
      const lastGoodAt = 1_000_000;
      const now = lastGoodAt + detectMs;
      for (const d of ejectDelays({ count, now, lastGoodAt, spreadMs, random: () => x })) {
        assert.ok(d >= 0);
        assert.ok(d === 0 || now + d < lastGoodAt + spreadMs, `closed at ${now + d - lastGoodAt} ms after the last good check`);
      }
    }));
});
