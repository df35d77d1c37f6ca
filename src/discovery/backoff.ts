/**
 * How long discovery waits after a failure, as client-go's reflector does (reference §5):
 * exponential from 0.8 s, doubling, capped at 30 s, with jitter so that the nodes of a cluster
 * that lost its apiservers together do not come back in step.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 800, maxMs: 30_000 };

/**
 * The wait before retry number `failures` (1 for the first failure): the base doubles from
 * `initialMs` and stays under `maxMs`; the wait is that base plus up to as much again at random,
 * capped at `maxMs`.
 */
export function backoffDelay(failures: number, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return Math.round(Math.min(policy.maxMs, base * (1 + random())));
}
