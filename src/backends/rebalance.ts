/**
 * Paced rebalancing of long-lived sessions: which session to close, and when. Pure: the clock and
 * the random source are passed in, so every decision can be tested without a timer or a socket.
 *
 * An L4 proxy cannot send an HTTP/2 GOAWAY through TLS, but it can close a TCP connection at a
 * moment when nothing is in flight; the client redials and least-conn sends it to the backend
 * with the fewest sessions. "Nothing in flight" is the quiet rule: no bytes either way for
 * `quietMs`, and the last bytes came from the backend, so no request waits for its answer.
 */

/** Who sent the last bytes of a session. */
export type LastFrom = 'client' | 'backend' | 'none';

/** What a session tells about its traffic (Session.idleState). */
export interface IdleState {
  /** Past the first byte of the backend: bytes flow both ways. */
  established: boolean;
  /** Milliseconds since the last byte either way. */
  idleMs: number;
  lastFrom: LastFrom;
  /** Bytes accepted by the proxy but not yet written to the other side, either way. */
  pendingBytes: number;
}

/** The quiet rule: a session that may be closed without failing a request. */
export function isQuiet(s: IdleState, quietMs: number): boolean {
  return s.established && s.pendingBytes === 0 && s.lastFrom === 'backend' && s.idleMs >= quietMs;
}

export interface RebalanceSession<S> {
  session: S;
  idle: IdleState;
}

export interface RebalanceBackend<S> {
  address: string;
  priority: number;
  weight: number;
  /**
   * May take the sessions closed elsewhere: `up`, not removed, not suspect, slow start over. A
   * backend that is not eligible gives sessions only when it is of a worse priority than the best
   * eligible one.
   */
  eligible: boolean;
  /** Still ramping up after a recovery: the tier waits until it is done. */
  ramping: boolean;
  /**
   * Up for less than `--rebalance-after`: the tier waits, so that the clients' watches on the
   * others have had a bookmark newer than this backend's (re)start before they are moved onto it.
   */
  settling: boolean;
  /** Sessions open on it now (least-conn counts the same). */
  count: number;
  sessions: readonly RebalanceSession<S>[];
}

export type RebalancePlan<S> =
  | { kind: 'off'; why: 'panic' | 'no_tier' | 'ramping' | 'settling' }
  | { kind: 'balanced' }
  /** Uneven, but no session of `from` is quiet now: look again soon, it costs no turn. */
  | { kind: 'wait'; from: string }
  | { kind: 'close'; from: string; to: string; session: S; idleMs: number; why: 'uneven' | 'worse_priority' };

/**
 * The next session to close, if any. The tier is the best priority among eligible backends.
 * Sessions on a backend of a worse priority go first (they are there only because the better
 * ones were out); then, within the tier, the busiest backend gives one session when moving it
 * to the least loaded one makes the spread smaller: with equal weights, while the counts differ
 * by more than one. Among its quiet sessions, the one quiet the longest is chosen.
 */
export function planRebalance<S>(backends: readonly RebalanceBackend<S>[], o: { quietMs: number; panic: boolean }): RebalancePlan<S> {
  if (o.panic) return { kind: 'off', why: 'panic' };
  let best = Infinity;
  for (const b of backends) if (b.eligible) best = Math.min(best, b.priority);
  if (best === Infinity) return { kind: 'off', why: 'no_tier' };
  const tier = backends.filter((b) => b.eligible && b.priority === best);
  if (tier.some((b) => b.ramping)) return { kind: 'off', why: 'ramping' };
  if (tier.some((b) => b.settling)) return { kind: 'off', why: 'settling' };
  const least = leastLoaded(tier);

  const worse = backends.filter((b) => b.priority > best && b.count > 0).sort((x, y) => y.count - x.count);
  for (const b of worse) {
    const pick = quietest(b.sessions, o.quietMs);
    if (pick) return { kind: 'close', from: b.address, to: least.address, session: pick.session, idleMs: pick.idle.idleMs, why: 'worse_priority' };
  }
  if (worse.length > 0) return { kind: 'wait', from: worse[0]!.address };

  const busiest = mostLoaded(tier);
  if (busiest === least) return { kind: 'balanced' };
  if (!(busiest.count / busiest.weight > (least.count + 1) / least.weight)) return { kind: 'balanced' };
  const pick = quietest(busiest.sessions, o.quietMs);
  if (!pick) return { kind: 'wait', from: busiest.address };
  return { kind: 'close', from: busiest.address, to: least.address, session: pick.session, idleMs: pick.idle.idleMs, why: 'uneven' };
}

/** Whether the counts of a tier are within one session of even (weights taken into account). */
export function isBalanced(tier: readonly { count: number; weight: number }[]): boolean {
  if (tier.length < 2) return true;
  const busiest = mostLoaded(tier);
  const least = leastLoaded(tier);
  return busiest === least || !(busiest.count / busiest.weight > (least.count + 1) / least.weight);
}

function mostLoaded<T extends { count: number; weight: number }>(tier: readonly T[]): T {
  let pick = tier[0]!;
  for (const b of tier) if (b.count / b.weight > pick.count / pick.weight) pick = b;
  return pick;
}

function leastLoaded<T extends { count: number; weight: number }>(tier: readonly T[]): T {
  let pick = tier[0]!;
  for (const b of tier) if ((b.count + 1) / b.weight < (pick.count + 1) / pick.weight) pick = b;
  return pick;
}

function quietest<S>(sessions: readonly RebalanceSession<S>[], quietMs: number): RebalanceSession<S> | undefined {
  let pick: RebalanceSession<S> | undefined;
  for (const s of sessions) {
    if (!isQuiet(s.idle, quietMs)) continue;
    if (!pick || s.idle.idleMs > pick.idle.idleMs) pick = s;
  }
  return pick;
}

/**
 * The pause before the next look, given the last plan. After a close, or when there is nothing to
 * do, a whole turn: `intervalMs` with ±50% jitter, so that the nodes of a fleet that saw the same
 * recovery spread their closes out instead of striking together. While a busy backend has no
 * quiet session yet, a short look again (a quarter of the quiet time, 100 ms-1 s), which costs no
 * turn: the rate counts closes, not looks.
 */
export function nextLookMs(plan: RebalancePlan<unknown>, o: { intervalMs: number; quietMs: number }, random: () => number): number {
  if (plan.kind === 'wait') return Math.min(1000, Math.max(100, Math.round(o.quietMs / 4)));
  return Math.max(1, Math.round(o.intervalMs * (0.5 + random())));
}

/** The first look after start: anywhere within one turn, so a fleet started together is spread out. */
export function firstLookMs(intervalMs: number, random: () => number): number {
  return Math.max(1, Math.round(intervalMs * random()));
}
