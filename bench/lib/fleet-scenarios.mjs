// The scenarios of many proxies at once, each standing for one node: `rebalance` (a backend
// killed and revived: how long until every node's sessions are even again) and `herd` (a
// backend frozen, as a host that vanished: how hard the nodes' reconnects hit the survivors).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startClient } from './procs.mjs';
import { startProxy, stopProxy } from './proxies.mjs';

const CLIENTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'clients');
const now = () => performance.timeOrigin + performance.now();
/** The proxies of these scenarios listen on port-base + this + i. */
export const FLEET_PORT_OFFSET = 100;

export function fleetPorts(portBase, count) {
  return Array.from({ length: count }, (_, i) => portBase + FLEET_PORT_OFFSET + i);
}

/** Starts `count` proxies `name` side by side, runs `fn(ports)`, stops them all. */
async function withProxies(ctx, name, scenario, fn, { shutdownSessions = false, extraArgs = [] } = {}) {
  const s = ctx.settings;
  const ports = fleetPorts(ctx.portBase, s.fleetProxies);
  const proxies = [];
  try {
    for (const [i, port] of ports.entries()) {
      const dir = path.join(ctx.scratch, `${scenario}-${name}-${i}`);
      mkdirSync(dir, { recursive: true });
      proxies.push(await startProxy(name, {
        port,
        backends: ctx.fleet.addresses(),
        intervalMs: 1000,
        shutdownSessions,
        tls: ctx.tls,
        dir,
        repoRoot: ctx.repoRoot,
        extraArgs: [...extraArgs, ...ctx.kubeLocalLbArgs],
        logFile: path.join(ctx.detailDir, `${ctx.tag(scenario, name)}-${i}.log`),
      }));
    }
    return await fn(ports);
  } finally {
    await Promise.all(proxies.map((p) => stopProxy(p)));
  }
}

/** Which backend each connection of each proxy is on, from the client's events. */
class Sessions {
  constructor(proxies, backends) {
    this.counts = Array.from({ length: proxies }, () => Object.fromEntries(backends.map((b) => [b, 0])));
    this.backends = backends;
  }

  apply(ev) {
    const c = this.counts[ev.p];
    if (!c || !(ev.b in c)) return;
    if (ev.event === 'connected') c[ev.b]++;
    else if (ev.event === 'closed') c[ev.b]--;
  }

  /** Every proxy's sessions within one of even across all backends. */
  balanced() {
    return this.counts.every((c) => {
      const v = this.backends.map((b) => c[b]);
      return Math.max(...v) - Math.min(...v) <= 1;
    });
  }

  total(b) {
    return this.counts.reduce((sum, c) => sum + c[b], 0);
  }
}

/** The client's events to detail/, and the failures by why (`closed:2,timeout:1`). */
function keep(ctx, scenario, name, log) {
  writeFileSync(path.join(ctx.detailDir, `${ctx.tag(scenario, name)}.events.jsonl`), log.map((ev) => JSON.stringify(ev)).join('\n'));
}

function whys(events) {
  const by = {};
  for (const ev of events) if (ev.event === 'failed') by[ev.why] = (by[ev.why] ?? 0) + 1;
  return Object.entries(by).map(([k, v]) => `${k}:${v}`).join(',') || 'none';
}

/** The most events in any 1 s window. */
function peakPerSecond(times) {
  const t = [...times].sort((x, y) => x - y);
  let peak = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= 1000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

/** Reads the client's events until `until()` (epoch ms) passes or `stop(ev)` says so. */
async function pump(client, sessions, log, until, stop = () => false) {
  for (;;) {
    const left = until() - now();
    if (left <= 0) return;
    const asked = now();
    const line = await client.nextLine(Math.min(left, 1000));
    if (line === undefined) {
      // The client's output ended: wait out the time instead of spinning.
      if (now() - asked < 5) await sleep(Math.min(left, 200));
      if (stop(undefined)) return;
      continue;
    }
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      continue;
    }
    sessions.apply(ev);
    log.push(ev);
    if (stop(ev)) return;
  }
}

function startRedial(ctx, ports) {
  const s = ctx.settings;
  return startClient(path.join(CLIENTS, 'redial.mjs'), [
    '--ports', ports.join(','), '--n', String(s.fleetConns), '--hold-ms', String(s.fleetHoldMs),
    ...(ctx.tls ? ['--ca', ctx.tls.caFile] : []),
  ], { timeoutMs: s.fleetHoldMs + 30000 });
}

async function waitReady(client, sessions, log) {
  const deadline = now() + 60000;
  let ready;
  await pump(client, sessions, log, () => deadline, (ev) => {
    if (ev?.event === 'ready') ready = ev;
    return ready !== undefined;
  });
  return ready;
}

/** Reconnect peaks at each survivor after `from`: the highest per-survivor figure. */
function survivorPeak(log, from, dead) {
  const per = {};
  for (const ev of log) if (ev.event === 'connected' && ev.re && ev.at >= from && ev.b !== dead) (per[ev.b] ??= []).push(ev.at);
  return Math.max(0, ...Object.values(per).map(peakPerSecond));
}

// ---- rebalance -------------------------------------------------------------------------------

export async function rebalance(ctx, name) {
  const s = ctx.settings;
  const fleet = ctx.fleet;
  const b1 = fleet.backends[0];
  try {
    return await withProxies(ctx, name, 'rebalance', async (ports) => {
      await sleep(s.settleMs);
      const sessions = new Sessions(ports.length, fleet.backends.map((b) => b.name));
      const log = [];
      const client = startRedial(ctx, ports);
      try {
        const ready = await waitReady(client, sessions, log);
        if (!ready) return { error: 'connections_not_ready' };
        const calm = now() + 2000;
        await pump(client, sessions, log, () => calm);
        const fault = now();
        await fleet.kill(b1);
        await pump(client, sessions, log, () => fault + s.rebalanceDownMs);
        const onDead = sessions.total(b1.name);
        const revived = now();
        await fleet.start(b1);
        let balancedAt;
        let lastEventAt = revived;
        // Watch until balanced and quiet for 5 s (nothing moves any more), or the window ends.
        await pump(client, sessions, log, () => revived + s.rebalanceWatchMs, (ev) => {
          if (ev) lastEventAt = ev.at;
          if (ev && balancedAt === undefined && sessions.balanced()) balancedAt = ev.at;
          if (ev && balancedAt !== undefined && !sessions.balanced()) balancedAt = undefined;
          return balancedAt !== undefined && now() - lastEventAt > 5000;
        });
        keep(ctx, 'rebalance', name, [...log, { event: 'marks', fault, revived }]);
        const after = log.filter((ev) => ev.at >= revived);
        const before = log.filter((ev) => ev.at >= fault && ev.at < revived);
        return {
          conns: ready.ok,
          proxies: ports.length,
          on_dead_before_revival: onDead,
          balance_s: balancedAt === undefined ? -1 : Math.round((balancedAt - revived) / 100) / 10,
          rebalanced: after.filter((ev) => ev.event === 'closed').length,
          failed: after.filter((ev) => ev.event === 'failed').length,
          failed_why: whys(after),
          failed_at_kill: before.filter((ev) => ev.event === 'failed').length,
          reconnect_peak_per_s: survivorPeak(before, fault, b1.name),
          revived_peak_per_s: Math.max(0, peakPerSecond(after.filter((ev) => ev.event === 'connected' && ev.b === b1.name).map((ev) => ev.at))),
          on_revived_at_end: sessions.total(b1.name),
          watched_s: Math.round((now() - revived) / 1000),
        };
      } finally {
        client.stop();
        await client.done;
      }
    }, { extraArgs: ['--rebalance'] });
  } finally {
    await fleet.ensureAll();
  }
}

// ---- herd ------------------------------------------------------------------------------------

export async function herd(ctx, name) {
  const s = ctx.settings;
  const fleet = ctx.fleet;
  const b1 = fleet.backends[0];
  try {
    // HAProxy's all-at-once eject: `on-marked-down shutdown-sessions`.
    return await withProxies(ctx, name, 'herd', async (ports) => {
      await sleep(s.settleMs);
      const sessions = new Sessions(ports.length, fleet.backends.map((b) => b.name));
      const log = [];
      const client = startRedial(ctx, ports);
      try {
        const ready = await waitReady(client, sessions, log);
        if (!ready) return { error: 'connections_not_ready' };
        // Long enough for every proxy's checks to drift to a phase of their own.
        const drifted = now() + s.herdSettleMs;
        await pump(client, sessions, log, () => drifted);
        const pinned = sessions.total(b1.name);
        const fault = now();
        await fleet.freeze(b1);
        await pump(client, sessions, log, () => fault + s.herdWatchMs, () => sessions.total(b1.name) === 0 && now() - fault > 6000);
        keep(ctx, 'herd', name, [...log, { event: 'marks', fault }]);
        const closes = log.filter((ev) => ev.event === 'closed' && ev.b === b1.name && ev.at >= fault).map((ev) => ev.at - fault).sort((x, y) => x - y);
        const failed = log.filter((ev) => ev.event === 'failed' && ev.at >= fault).length;
        return {
          conns: ready.ok,
          proxies: ports.length,
          pinned,
          closed: closes.length,
          close_ms_first: closes.length ? Math.round(closes[0]) : -1,
          close_ms_max: closes.length === pinned ? Math.round(closes[closes.length - 1]) : -1,
          reconnect_peak_per_s: survivorPeak(log, fault, b1.name),
          failed,
          ...(name === 'haproxy' ? { variant: 'shutdown-sessions' } : {}),
        };
      } finally {
        client.stop();
        await client.done;
      }
    }, { shutdownSessions: true });
  } finally {
    fleet.thaw(b1);
    await fleet.ensureAll();
  }
}
