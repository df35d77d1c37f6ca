import type { Balance } from '../config/schema.js';

/** What selection needs to know of a backend: nothing it could change. */
export interface Candidate {
  readonly address: string;
  readonly priority: number;
  readonly weight: number;
  readonly activeSessions: number;
  /** 0..1: the share of traffic a backend in slow start may take now (1 when not ramping). */
  readonly ramp: number;
  /** A session just failed to reach it and a check is confirming: use it only if nothing else. */
  readonly suspect: boolean;
}

/**
 * Picks one backend among `candidates` (all already eligible). Pure but for `random`, which is
 * passed in; `cursor` keeps the round-robin position between calls.
 *
 * The best priority present wins; among it non-suspect backends are preferred. Then:
 * - least-conn: fewest active sessions, scaled by weight and slow-start ramp; ties at random,
 *   so 5,000 nodes starting together do not all pick the first apiserver.
 * - round-robin: the next one after the last pick (the cursor starts at random).
 * - random: weighted by weight x ramp.
 */
export function select<T extends Candidate>(
  candidates: readonly T[],
  balance: Balance,
  random: () => number,
  cursor: { next: number },
): T | undefined {
  if (candidates.length === 0) return undefined;
  let best = Infinity;
  for (const c of candidates) best = Math.min(best, c.priority);
  let tier = candidates.filter((c) => c.priority === best);
  const sure = tier.filter((c) => !c.suspect);
  if (sure.length > 0) tier = sure;

  // Slow start: a ramping backend is skipped with probability 1 - ramp, unless it is all there is.
  const ramped = tier.filter((c) => c.ramp >= 1 || random() < c.ramp);
  if (ramped.length > 0) tier = ramped;

  switch (balance) {
    case 'least-conn':
      return leastConn(tier, random);
    case 'round-robin': {
      const pick = tier[cursor.next % tier.length];
      cursor.next = (cursor.next + 1) % 1_000_000_007;
      return pick;
    }
    case 'random':
      return weightedRandom(tier, random);
  }
}

function leastConn<T extends Candidate>(tier: readonly T[], random: () => number): T | undefined {
  let bestLoad = Infinity;
  let ties: T[] = [];
  for (const c of tier) {
    const load = (c.activeSessions + 1) / Math.max(c.weight, 1e-9);
    if (load < bestLoad) {
      bestLoad = load;
      ties = [c];
    } else if (load === bestLoad) {
      ties.push(c);
    }
  }
  return ties[Math.floor(random() * ties.length)];
}

function weightedRandom<T extends Candidate>(tier: readonly T[], random: () => number): T | undefined {
  let total = 0;
  for (const c of tier) total += c.weight;
  let r = random() * total;
  for (const c of tier) {
    r -= c.weight;
    if (r < 0) return c;
  }
  return tier[tier.length - 1];
}
