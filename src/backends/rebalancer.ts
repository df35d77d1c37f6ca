import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Backend, BackendSession } from './backend.js';
import type { BackendMetrics } from './metrics.js';
import { type RebalanceBackend, firstLookMs, isQuiet, nextLookMs, planRebalance } from './rebalance.js';

export interface RebalancerOptions {
  backends: () => readonly Backend[];
  panic: () => boolean;
  config: () => Config;
  metrics: BackendMetrics;
  log: Logger;
  random?: () => number;
  now?: () => number;
}

/**
 * The timer that paces rebalancing: at each look it asks the planner (rebalance.ts) and closes at
 * most one session. Everything it decides is in the planner; this only owns the timer.
 */
export class Rebalancer {
  readonly #o: RebalancerOptions;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #pending: NodeJS.Immediate | undefined;
  #stopped = false;

  constructor(o: RebalancerOptions) {
    this.#o = o;
    this.#random = o.random ?? Math.random;
    this.#now = o.now ?? Date.now;
    this.#log = o.log.child({ component: 'rebalance' });
  }

  start(): void {
    this.#schedule(firstLookMs(this.#o.config().rebalanceIntervalMs, this.#random));
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.look(), ms);
    this.#timer.unref();
  }

  /** One look: close at most one session, then schedule the next look. */
  look(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const config = this.#o.config();
    const o = { intervalMs: config.rebalanceIntervalMs, quietMs: config.rebalanceQuietMs };
    if (!config.rebalance) {
      this.#schedule(nextLookMs({ kind: 'balanced' }, o, this.#random));
      return;
    }
    const now = this.#now();
    const views: RebalanceBackend<BackendSession>[] = [];
    for (const b of this.#o.backends()) {
      if (b.removed) continue;
      views.push({
        address: b.address,
        priority: b.priority,
        weight: b.weight,
        eligible: b.state.kind === 'up' && !b.suspect,
        ramping: b.rampAt(now) < 1,
        settling: b.state.kind === 'up' && now - b.state.since < config.rebalanceAfterMs,
        count: b.activeSessions,
        sessions: [...b.sessions].map((session) => ({ session, idle: session.idleState() })),
      });
    }
    const plan = planRebalance(views, { quietMs: o.quietMs, panic: this.#o.panic() });
    if (plan.kind !== 'close') {
      this.#schedule(nextLookMs(plan, o, this.#random));
      return;
    }
    // Timers run before the event loop reads the sockets: bytes a client sent just now may be in
    // the kernel, not yet seen. The close waits for the read that follows (setImmediate runs after
    // it) and asks again, so a request that arrived meanwhile keeps its session.
    this.#pending = setImmediate(() => {
      this.#pending = undefined;
      if (this.#stopped) return;
      const { session } = plan;
      if (!isQuiet(session.idleState(), o.quietMs)) {
        this.#schedule(nextLookMs({ kind: 'wait', from: plan.from }, o, this.#random));
        return;
      }
      const counts = Object.fromEntries(views.filter((v) => v.eligible || v.count > 0).map((v) => [v.address, v.count]));
      this.#o.metrics.rebalancedSessions.inc({ backend: plan.from });
      this.#log.info({ event: 'session_rebalanced', backend: plan.from, to: plan.to, why: plan.why, quietMs: Math.round(plan.idleMs), sessions: counts },
        `closed a quiet session of ${plan.from} so that its client redials ${plan.to} (${plan.why === 'uneven' ? 'sessions uneven' : 'better priority up'})`);
      session.onRebalance();
      this.#schedule(nextLookMs(plan, o, this.#random));
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#pending) clearImmediate(this.#pending);
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
