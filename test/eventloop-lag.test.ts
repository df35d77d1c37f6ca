import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { ServiceMetrics } from '../src/service/metrics.js';
import { parseMetrics, value } from './helpers/prometheus.js';

const LAG = 'kube_local_lb_nodejs_eventloop_lag';

/** Holds the event loop for `ms`, as a long synchronous task would. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* busy */ }
}

test('event-loop lag gauges read the real lag: ~0 while idle, the length of a forced stall after one', async () => {
  const registry = new Registry();
  new ServiceMetrics(registry);
  const scrape = async () => parseMetrics(await registry.metrics());
  await scrape(); // starts a fresh sampling window
  await sleep(1600);
  const idle = await scrape();
  // Idle, a 500 ms sampling interval used to read as 0.5 s of lag.
  for (const name of ['p50', 'p90', 'mean', 'min']) {
    const seconds = value(idle, `${LAG}_${name}_seconds`);
    // Well under the 0.5 s the sampling interval used to add, with room for a loaded machine.
    assert.ok(seconds >= 0 && seconds < 0.25, `idle ${name}: ${seconds} s`);
  }
  // A 1,000 ms stall: the tick due during it comes between 500 and 1,000 ms late, depending on
  // where in the 500 ms interval the stall began.
  // Node's histogram measures from its previous tick, and a scrape resets it: one tick first.
  await scrape();
  await sleep(600);
  stall(1000);
  await sleep(700);
  const stalled = await scrape();
  const max = value(stalled, `${LAG}_max_seconds`);
  assert.ok(max >= 0.45 && max <= 1.4, `max after a 1 s stall: ${max} s`);
  assert.ok(value(stalled, `${LAG}_min_seconds`) < 0.25, 'the other ticks were on time');
  // Nothing sampled since the last scrape: 0, not prom-client's "min above max" artefact.
  const again = await scrape();
  assert.equal(value(again, `${LAG}_max_seconds`), 0);
  assert.equal(value(again, `${LAG}_min_seconds`), 0);
});
