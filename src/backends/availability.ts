import type { Gauge } from 'prom-client';
import type { Logger } from '../log.js';
import type { StateKind } from './transitions.js';

/**
 * What the node can do for a new client, from the states of all backends:
 * - `serving`: a backend is up (or, before the first verdicts, unknown): normal selection;
 * - `panic`: none is, but a draining one answers: new sessions go to draining backends;
 * - `all_down`: nothing is eligible: new clients are refused at once.
 */
export type Availability = 'serving' | 'panic' | 'all_down';

export function availabilityOf(states: Iterable<StateKind>): Availability {
  let draining = false;
  for (const state of states) {
    if (state === 'up' || state === 'unknown') return 'serving';
    if (state === 'draining') draining = true;
  }
  return draining ? 'panic' : 'all_down';
}

/**
 * Follows the availability and says each change once: `panic_entered` and `panic_left` (only
 * when a backend is eligible again), `all_backends_down` and `all_backends_down_left`, and the
 * gauge kube_local_lb_all_backends_down (0/1). A node cut off from every apiserver is then told
 * apart from one running on draining backends, in the log and in a metric.
 */
export class AvailabilityWatch {
  #current: Availability = 'serving';
  readonly #gauge: Gauge;

  /** `gauge`: kube_local_lb_all_backends_down, owned by the backends' metrics. */
  constructor(gauge: Gauge, private readonly log: Logger) {
    this.#gauge = gauge;
    this.#gauge.set(0);
  }

  get current(): Availability {
    return this.#current;
  }

  /** The availability for these states, logging and counting a change. */
  update(states: Iterable<StateKind>): Availability {
    const next = availabilityOf(states);
    const previous = this.#current;
    if (next === previous) return next;
    this.#current = next;
    this.#gauge.set(next === 'all_down' ? 1 : 0);
    if (previous === 'all_down') {
      this.log.warn({ event: 'all_backends_down_left', to: next },
        next === 'panic' ? 'a backend answers again, not ready: sending new sessions to draining backends'
          : 'a backend is eligible again: new clients are served');
    }
    if (next === 'panic') {
      this.log.error({ event: 'panic_entered' }, 'no backend is ready: sending new sessions to draining backends');
    } else if (next === 'serving' && previous === 'panic') {
      this.log.warn({ event: 'panic_left' }, 'a backend is ready again: draining backends get no new sessions');
    } else if (next === 'all_down') {
      this.log.error({ event: 'all_backends_down', from: previous },
        previous === 'panic' ? 'the last draining backend is down too: no backend is eligible, new clients are refused'
          : 'every backend is down: no backend is eligible, new clients are refused');
    }
    return next;
  }
}
