import type { NextCheck } from '../health/checker.js';
import type { Reason, Verdict } from '../health/verdict.js';
import { verdictOf } from '../health/verdict.js';
import { assertNever } from '../never.js';

/**
 * The operational state of one backend (DESIGN.md, "Backend state machine").
 * - unknown:  no verdict yet; eligible only while no backend is up, so a cold node is served.
 * - up:       eligible for new sessions (ramping up until `slowStartEndsAt` after a recovery).
 * - draining: answers but is not ready (graceful shutdown, etcd trouble): no new sessions,
 *             existing ones keep going until the apiserver closes them or the drain timeout.
 * - down:     unreachable: its sessions are ejected, it gets nothing.
 */
export type BackendState =
  | { kind: 'unknown'; since: number }
  | { kind: 'up'; since: number; slowStartEndsAt: number }
  | { kind: 'draining'; since: number; reason: Reason }
  | { kind: 'down'; since: number; reason: Reason };

export type StateKind = BackendState['kind'];
export const STATE_KINDS: readonly StateKind[] = ['unknown', 'up', 'draining', 'down'];

/**
 * Consecutive verdicts of one class. Verdicts that keep a backend in service (`pass`, and
 * `unauthorized`, which proves the apiserver answers) count as good; `fail` and `unreachable`
 * count as bad. A good verdict resets the bad count and the other way round, so a flapping
 * backend that never strings `fall` bad verdicts together never leaves `up`.
 */
export interface Streak {
  good: number;
  bad: number;
}

export interface Thresholds {
  rise: number;
  fall: number;
  slowStartMs: number;
}

export function isGood(verdict: Verdict): boolean {
  return verdict === 'pass' || verdict === 'unauthorized';
}

export function nextStreak(streak: Streak, verdict: Verdict): Streak {
  return isGood(verdict) ? { good: streak.good + 1, bad: 0 } : { good: 0, bad: streak.bad + 1 };
}

/**
 * The streak after a session failed to reach the backend (refused, connect timeout, no first
 * byte). It counts as one unreachable verdict, but never as the last one of `fall`: the immediate
 * check that follows decides. So two slow handshakes on a loaded but live apiserver cannot eject
 * every session of it, while a dead one is confirmed within one check timeout.
 */
export function sessionFailureStreak(streak: Streak, reason: Reason, fall: number): Streak {
  return streak.bad + 1 < fall ? nextStreak(streak, verdictOf(reason)) : streak;
}

/**
 * When the next check runs after a verdict that left the state as it was (`streak` already counts
 * it). A state change waits a whole interval; a verdict that would change the state if repeated is
 * confirmed right away (a bad one) or soon (a good one).
 */
export function nextCheck(state: BackendState, streak: Streak, reason: Reason, t: Thresholds, now: number, changed: boolean): NextCheck {
  if (changed) return 'interval';
  const repeated = nextStreak(streak, verdictOf(reason));
  if (nextState(state, repeated, reason, t, now) === state) return 'interval';
  return isGood(verdictOf(reason)) ? 'soon' : 'now';
}

/**
 * The eligibility class of a state for `pick`: the best class present is used (`up`, else
 * `unknown`, so a cold start is served; else `draining`: panic, an apiserver that answers beats a
 * refused connection). `down` is never eligible: undefined.
 */
export function eligibilityRank(kind: StateKind): 0 | 1 | 2 | undefined {
  switch (kind) {
    case 'up':
      return 0;
    case 'unknown':
      return 1;
    case 'draining':
      return 2;
    case 'down':
      return undefined;
    default:
      return assertNever(kind);
  }
}

/** 0..1 share of new sessions a backend may take during slow start after a recovery. */
export function rampAt(state: BackendState, slowStartMs: number, now: number): number {
  if (state.kind !== 'up' || now >= state.slowStartEndsAt) return 1;
  if (slowStartMs <= 0) return 1;
  // Never 0: a fresh backend must get some sessions to prove itself.
  return Math.max(0.05, 1 - (state.slowStartEndsAt - now) / slowStartMs);
}

/**
 * Where one more verdict takes a backend. Pure: the clock is passed in. Returns the same object
 * when nothing changes, so callers compare by identity.
 */
export function nextState(state: BackendState, streak: Streak, reason: Reason, t: Thresholds, now: number): BackendState {
  const verdict = verdictOf(reason);
  const good = isGood(verdict);
  switch (state.kind) {
    case 'unknown':
      // From unknown one good verdict is enough: the first checks decide quickly at start.
      if (good) return { kind: 'up', since: now, slowStartEndsAt: now };
      if (streak.bad >= t.fall) return badState(verdict, reason, now);
      return state;
    case 'up':
      if (!good && streak.bad >= t.fall) return badState(verdict, reason, now);
      return state;
    case 'draining':
      // Slow start here too: a draining backend got no new sessions, so least-conn would send it
      // every new one at once (a restarted apiserver comes back through draining: 403, then 500).
      if (good && streak.good >= t.rise) return { kind: 'up', since: now, slowStartEndsAt: now + t.slowStartMs };
      if (verdict === 'unreachable' && streak.bad >= t.fall) return { kind: 'down', since: now, reason };
      return state;
    case 'down':
      // Back from the dead: ramp up over slowStartMs, so a fleet does not land on it at once.
      if (good && streak.good >= t.rise) return { kind: 'up', since: now, slowStartEndsAt: now + t.slowStartMs };
      // It answers again, but is not ready yet (e.g. an apiserver starting): usable in panic only.
      if (verdict === 'fail' && streak.bad >= t.fall) return { kind: 'draining', since: now, reason };
      return state;
    default:
      return assertNever(state);
  }
}

/**
 * Whether a backend that went down with this reason has its sessions ejected. Not on `refused`:
 * the kernel closed every connection of a process that died, so there is nothing to eject, while
 * a listener that refuses beside connections that still work is an apiserver in graceful shutdown
 * (it closes its listener at once, then ends its own connections with GOAWAY and when watches end).
 * Eject is for silence: timeouts, unreachable networks, resets, broken TLS.
 */
export function ejectsOnDown(reason: Reason): boolean {
  return reason !== 'refused';
}

/**
 * Whether a backend that is draining for this reason strands its sessions: it answers, but its
 * answers fail (its etcd is out of reach, or it refuses the credential others accept), and unlike
 * an apiserver in graceful shutdown it will never end those connections itself; kubelet's HTTP/2
 * connection would stay on it, failing every Lease renewal. Such sessions are moved (ejected)
 * while another backend is up; in panic they stay, since nothing better can take them.
 */
export function strandsSessions(reason: Reason): boolean {
  return reason === 'slow' || reason === 'etcd_failed' || reason === 'refused_here';
}

/**
 * How long sessions stranded on a backend wait before they move. A fault of its own (cut from
 * its etcd while the others are up) has the grace time (one check interval and one timeout):
 * the other backends' checks would have seen the same fault by then. After an outage every
 * backend shared (panic: one etcd for all, stopped), the apiservers come back one by one as
 * their etcd clients redial with growing backoff, so their recovery spreads with the outage's
 * length (three real apiservers after 21 s of etcd outage: 3.2 s from the first to the last).
 * Those still slow get half the outage on top, never more than the drain timeout.
 */
export function strandGraceMs(graceMs: number, sharedOutageMs: number, drainTimeoutMs: number): number {
  if (sharedOutageMs <= 0) return graceMs;
  return Math.max(graceMs, Math.min(graceMs + sharedOutageMs / 2, drainTimeoutMs));
}

/**
 * The reason a check's verdict is read as. A 401/403 where another backend accepts the same
 * credential means this apiserver is not ready (a starting one refuses everyone outside
 * system:masters until RBAC's caches sync): a failure. Only where no backend accepts it is it a
 * credential problem, which must not black out the node.
 */
export function checkReason(reason: Reason, acceptedElsewhere: boolean): Reason {
  return acceptedElsewhere && verdictOf(reason) === 'unauthorized' ? 'refused_here' : reason;
}

function badState(verdict: Verdict, reason: Reason, now: number): BackendState {
  return verdict === 'unreachable' ? { kind: 'down', since: now, reason } : { kind: 'draining', since: now, reason };
}
