// The scenarios. Each starts the proxy fresh, measures one thing, stops the proxy, and returns
// the figures of its result line as { key: value }. The fleet is healthy before and after.
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BIG_BYTES } from './fleet.mjs';
import { Netns, NS_IP } from './netns.mjs';
import { cpuSeconds, memoryKb, processTree, runCommand, startClient } from './procs.mjs';
import { startProxy, stopProxy } from './proxies.mjs';
import { herd, rebalance } from './fleet-scenarios.mjs';

const CLIENTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'clients');
const now = () => performance.timeOrigin + performance.now();

export const SCENARIOS = ['keepalive', 'newconn', 'bulk', 'memory', 'failover-stop', 'failover-kill', 'failover-netns', 'eject', 'checkcost', 'rebalance', 'herd'];

/**
 * Runs `fn(proxy)` with proxy `name` started fresh in front of the fleet; always stops it.
 * @param {object} ctx  see main.mjs
 */
async function withProxy(ctx, name, scenario, fn, { intervalMs = 1000, shutdownSessions = false } = {}) {
  const proxy = await startProxy(name, {
    port: ctx.proxyPort,
    backends: ctx.fleet.addresses(),
    intervalMs,
    shutdownSessions,
    tls: ctx.tls,
    dir: ctx.scratch,
    repoRoot: ctx.repoRoot,
    extraArgs: ctx.kubeLocalLbArgs,
    logFile: path.join(ctx.detailDir, `${ctx.tag(scenario, name)}.log`),
  });
  try {
    return await fn(proxy);
  } finally {
    await stopProxy(proxy);
  }
}

function proxyUrl(ctx, urlPath) {
  return `${ctx.tls ? 'https' : 'http'}://127.0.0.1:${ctx.proxyPort}${urlPath}`;
}

const round = (v, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

function median(values) {
  const v = [...values].sort((x, y) => x - y);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// ---- keepalive, newconn ----------------------------------------------------------------------

/** wrk's duration text (850.00us, 1.20ms, 1.02s, 1.5m) in ms. */
function wrkMs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]];
}

export function parseWrk(out) {
  const requests = Number(/^\s*(\d+) requests in /m.exec(out)?.[1] ?? NaN);
  const rps = Number(/^Requests\/sec:\s+([\d.]+)/m.exec(out)?.[1] ?? NaN);
  const p50 = wrkMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = wrkMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = non2xx + (sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0);
  return { requests, rps, p50, p99, errors };
}

async function wrkScenario(ctx, name, scenario, extraArgs) {
  const s = ctx.settings;
  return withProxy(ctx, name, scenario, async (proxy) => {
    const url = proxyUrl(ctx, '/small.json');
    const common = ['-t2', '-c64', '--timeout', '5s', ...extraArgs];
    await runCommand('wrk', [...common, `-d${s.warmS}s`, url], { timeoutMs: (s.warmS + 20) * 1000 });
    const pids = processTree(proxy.pid);
    const cpu0 = cpuSeconds(pids);
    const r = await runCommand('wrk', [...common, `-d${s.wrkS}s`, '--latency', url], { timeoutMs: (s.wrkS + 20) * 1000 });
    const cpu = cpuSeconds(pids) - cpu0;
    writeFileSync(path.join(ctx.detailDir, `${ctx.tag(scenario, name)}.wrk.txt`), r.stdout + r.stderr);
    const w = parseWrk(r.stdout);
    if (r.code !== 0 || !(w.requests > 0)) return { error: `wrk_failed_${r.timedOut ? 'timeout' : r.code}` };
    return {
      rps: Math.round(w.rps),
      p50_ms: round(w.p50, 3),
      p99_ms: round(w.p99, 3),
      errors: w.errors,
      requests: w.requests,
      proxy_cpu_s: round(cpu, 2),
      cpu_us_per_req: round((cpu * 1e6) / w.requests),
    };
  });
}

// ---- bulk ------------------------------------------------------------------------------------

async function bulk(ctx, name) {
  const s = ctx.settings;
  return withProxy(ctx, name, 'bulk', async (proxy) => {
    const args = ['-s', '-o', '/dev/null', '-m', '30', '-w', '%{size_download} %{time_total}\n'];
    if (ctx.tls) args.push('--cacert', ctx.tls.caFile);
    args.push(proxyUrl(ctx, '/big.bin'));
    await runCommand('curl', args, { timeoutMs: 35000 });
    const pids = processTree(proxy.pid);
    const cpu0 = cpuSeconds(pids);
    const speeds = [];
    let errors = 0;
    let bytes = 0;
    for (let i = 0; i < s.bulkN; i++) {
      const r = await runCommand('curl', args, { timeoutMs: 35000 });
      const [size, seconds] = r.stdout.trim().split(' ').map(Number);
      bytes += size || 0;
      if (r.code === 0 && size === BIG_BYTES && seconds > 0) speeds.push(size / seconds / 1e6);
      else errors++;
    }
    const cpu = cpuSeconds(pids) - cpu0;
    if (speeds.length === 0) return { error: 'no_complete_download', errors };
    return {
      mbps: Math.round(median(speeds)),
      mbps_min: Math.round(Math.min(...speeds)),
      mbps_max: Math.round(Math.max(...speeds)),
      errors,
      proxy_cpu_s: round(cpu, 2),
      cpu_s_per_gb: round(cpu / (bytes / 1e9), 3),
    };
  });
}

// ---- memory ----------------------------------------------------------------------------------

function holdArgs(ctx, n, extra = []) {
  return ['--host', '127.0.0.1', '--port', String(ctx.proxyPort), '--n', String(n), ...(ctx.tls ? ['--ca', ctx.tls.caFile] : []), ...extra];
}

/** The client's next JSON line with event `event`, or undefined by `deadline` (epoch ms). */
async function nextEvent(client, event, deadline) {
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    const line = await client.nextLine(left);
    if (line === undefined) return undefined;
    try {
      const o = JSON.parse(line);
      if (o.event === event) return o;
    } catch {
      // Not one of ours: ignore.
    }
  }
}

async function memory(ctx, name) {
  const s = ctx.settings;
  return withProxy(ctx, name, 'memory', async (proxy) => {
    await sleep(2000);
    const idle = memoryKb(processTree(proxy.pid));
    const client = startClient(path.join(CLIENTS, 'hold.mjs'), holdArgs(ctx, s.memConns, ['--hold-ms', '90000']), { timeoutMs: 100000 });
    try {
      const ready = await nextEvent(client, 'ready', Date.now() + 60000);
      if (!ready) return { error: 'connections_not_ready', rss_idle_kb: idle.rssKb };
      await sleep(1000);
      const held = memoryKb(processTree(proxy.pid));
      const per = (a, b) => (ready.ok > 0 ? round((b - a) / ready.ok, 2) : NaN);
      return {
        rss_idle_kb: idle.rssKb,
        pss_idle_kb: idle.pssKb,
        rss_held_kb: held.rssKb,
        pss_held_kb: held.pssKb,
        held_ok: ready.ok,
        held_failed: ready.failed,
        rss_kb_per_conn: per(idle.rssKb, held.rssKb),
        pss_kb_per_conn: per(idle.pssKb, held.pssKb),
        processes: held.processes,
      };
    } finally {
      client.stop();
      await client.done;
    }
  });
}

// ---- failover --------------------------------------------------------------------------------

async function sleepUntil(epochMs) {
  const ms = epochMs - now();
  if (ms > 0) await sleep(ms);
}

/**
 * Reads what the failover client saw. `fault`/`heal`: epoch ms when the fault was injected and
 * healed. "Affected" requests started in between and failed, took over 1 s, or were answered by
 * the dead backend; after the last of them, no request visibly went to it (`detect_ms`).
 */
export function analyzeFailover(records, { fault, heal, dead }) {
  const bad = (r) => r.error !== '' || r.status !== 200;
  const ok = records.filter((r) => !bad(r));
  const affected = records.filter((r) => r.start >= fault && r.start < heal && (bad(r) || r.ms > 1000 || r.backend === dead));
  const lastAffected = affected.length ? Math.max(...affected.map((r) => r.start)) : fault;
  const ends = ok.map((r) => r.end).sort((x, y) => x - y);
  let gap = 0;
  for (let i = 1; i < ends.length; i++) gap = Math.max(gap, ends[i] - ends[i - 1]);
  const back = ok.filter((r) => r.start >= heal && r.backend === dead).map((r) => r.end).sort((x, y) => x - y)[0];
  const errors = {};
  for (const r of records.filter(bad)) {
    const k = r.error || `http_${r.status}`;
    errors[k] = (errors[k] ?? 0) + 1;
  }
  return {
    requests: records.length,
    failed: records.length - ok.length,
    stall_ms: Math.round(Math.max(0, ...records.map((r) => r.ms))),
    detect_ms: Math.round(lastAffected - fault),
    affected: affected.length,
    to_dead: affected.filter((r) => r.backend === dead).length,
    gap_ms: Math.round(gap),
    back_ms: back === undefined ? -1 : Math.round(back - heal),
    errors: Object.entries(errors).map(([k, v]) => `${k}:${v}`).join(',') || 'none',
  };
}

async function failover(ctx, name, mode) {
  const s = ctx.settings;
  const fleet = ctx.fleet;
  const b1 = fleet.backends[0];
  let netns;
  if (mode === 'netns') {
    if (process.getuid?.() !== 0) return { skipped: 'needs_root' };
    netns = new Netns();
    ctx.onInterrupt.add(netns);
    await netns.create();
    await fleet.stop(b1);
    Object.assign(b1, { host: NS_IP, netns: netns.name });
    await fleet.start(b1);
  }
  const actions = {
    stop: { fault: () => fleet.freeze(b1), heal: async () => fleet.thaw(b1) },
    kill: { fault: () => fleet.kill(b1), heal: () => fleet.start(b1) },
    netns: { fault: () => netns.linkDown(), heal: () => netns.linkUp() },
  }[mode];
  try {
    await fleet.ensureAll();
    return await withProxy(ctx, name, `failover-${mode}`, async () => {
      await sleep(s.settleMs);
      const log = path.join(ctx.detailDir, `${ctx.tag(`failover-${mode}`, name)}.jsonl`);
      const client = startClient(path.join(CLIENTS, 'failover.mjs'), [
        '--url', proxyUrl(ctx, '/healthz'), '--out', log, '--interval', String(s.foIntervalMs),
        '--duration', String(s.foDurationMs), '--timeout', String(s.foTimeoutMs), ...(ctx.tls ? ['--ca', ctx.tls.caFile] : []),
      ], { timeoutMs: s.foDurationMs + s.foTimeoutMs + 30000 });
      try {
        const started = await nextEvent(client, 'started', Date.now() + 10000);
        if (!started) return { error: 'client_did_not_start' };
        await sleepUntil(started.at + s.foFaultMs);
        const fault = now();
        await actions.fault();
        const faultTookMs = now() - fault;
        await sleepUntil(started.at + s.foHealMs);
        const heal = now();
        await actions.heal();
        const done = await nextEvent(client, 'done', Date.now() + s.foDurationMs + s.foTimeoutMs + 20000);
        if (!done) return { error: 'client_did_not_finish' };
        const records = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        return { ...analyzeFailover(records, { fault, heal, dead: b1.name }), fault_took_ms: Math.round(faultTookMs) };
      } finally {
        client.stop();
        await client.done;
      }
    });
  } finally {
    fleet.thaw(b1);
    if (netns) {
      await netns.linkUp().catch(() => {});
      await fleet.stop(b1);
      await netns.remove();
      ctx.onInterrupt.delete(netns);
      Object.assign(b1, { host: '127.0.0.1', netns: undefined });
      await fleet.start(b1);
    }
    await fleet.ensureAll();
  }
}

// ---- eject -----------------------------------------------------------------------------------

async function eject(ctx, name) {
  const s = ctx.settings;
  const fleet = ctx.fleet;
  const b1 = fleet.backends[0];
  try {
    // HAProxy's best configuration for long-lived connections: close them when the server goes down.
    return await withProxy(ctx, name, 'eject', async () => {
      await sleep(s.settleMs);
      const client = startClient(path.join(CLIENTS, 'hold.mjs'),
        holdArgs(ctx, s.ejectConns, ['--report-closes', '--concurrency', '1', '--hold-ms', String(s.ejectFaultMs + s.ejectWatchMs + 30000)]),
        { timeoutMs: s.ejectFaultMs + s.ejectWatchMs + 40000 });
      try {
        const ready = await nextEvent(client, 'ready', Date.now() + 30000);
        if (!ready) return { error: 'connections_not_ready' };
        const pinned = ready.backends[b1.name] ?? 0;
        if (pinned === 0) return { error: 'no_connection_on_b1', conns: ready.ok };
        await sleep(s.ejectFaultMs);
        const fault = now();
        await fleet.freeze(b1);
        const closedMs = [];
        let collateral = 0;
        let deadline = fault + s.ejectWatchMs;
        for (;;) {
          const left = deadline - now();
          if (left <= 0) break;
          const line = await client.nextLine(left);
          if (line === undefined) break;
          const ev = JSON.parse(line);
          if (ev.event !== 'closed') continue;
          if (ev.backend === b1.name) closedMs.push(ev.at - fault);
          else collateral++;
          // Once all pinned ones are closed, watch 2 s more for collateral closes, then stop.
          if (closedMs.length === pinned) deadline = Math.min(deadline, now() + 2000);
        }
        closedMs.sort((x, y) => x - y);
        return {
          conns: ready.ok,
          pinned,
          closed: closedMs.length,
          close_ms_p50: closedMs.length ? Math.round(median(closedMs)) : -1,
          close_ms_max: closedMs.length === pinned ? Math.round(closedMs[closedMs.length - 1]) : -1,
          collateral,
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

// ---- checkcost -------------------------------------------------------------------------------

async function checkcost(ctx, name) {
  const s = ctx.settings;
  const fleet = ctx.fleet;
  return withProxy(ctx, name, 'checkcost', async (proxy) => {
    // A fresh Node process compiles and optimises for its first seconds: not part of the cost.
    await sleep(s.checkSettleMs);
    const counters = () => Promise.all(fleet.backends.map((b) => fleet.counters(b)));
    const c0 = await counters();
    const b0 = cpuSeconds(fleet.pids());
    const p0 = cpuSeconds(processTree(proxy.pid));
    await sleep(s.checkWindowS * 1000);
    const b1 = cpuSeconds(fleet.pids());
    const p1 = cpuSeconds(processTree(proxy.pid));
    const c1 = await counters();
    // Each counter read is itself one connection and one request: taken off.
    const checks = c1.reduce((sum, c, i) => sum + c.requests - c0[i].requests - 1, 0);
    const conns = c1.reduce((sum, c, i) => sum + c.accepts - c0[i].accepts - 1, 0);
    if (checks <= 0) return { error: 'no_checks_seen' };
    return {
      checks,
      checks_per_s: round(checks / s.checkWindowS),
      conns_per_check: round(conns / checks, 3),
      backend_cpu_ms: Math.round((b1 - b0) * 1000),
      backend_us_per_check: round(((b1 - b0) * 1e6) / checks),
      proxy_us_per_check: round(((p1 - p0) * 1e6) / checks),
    };
  }, { intervalMs: s.checkIntervalMs });
}

/** Runs scenario `scenario` for proxy `name`; resolves its figures. */
export function runScenario(ctx, scenario, name) {
  switch (scenario) {
    case 'keepalive': return wrkScenario(ctx, name, scenario, []);
    case 'newconn': return wrkScenario(ctx, name, scenario, ['-H', 'Connection: close']);
    case 'bulk': return bulk(ctx, name);
    case 'memory': return memory(ctx, name);
    case 'failover-stop': return failover(ctx, name, 'stop');
    case 'failover-kill': return failover(ctx, name, 'kill');
    case 'failover-netns': return failover(ctx, name, 'netns');
    case 'eject': return eject(ctx, name);
    case 'checkcost': return checkcost(ctx, name);
    case 'rebalance': return rebalance(ctx, name);
    case 'herd': return herd(ctx, name);
    default: throw new Error(`unknown scenario ${scenario}`);
  }
}
