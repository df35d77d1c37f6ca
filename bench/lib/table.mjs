// Result lines -> a markdown table: per scenario and figure, the median of each proxy over the
// repetitions and the paired ratio kube-local-lb / HAProxy (the ratio within each repetition,
// whose median is shown, with its range). Also runnable on a saved raw.txt:
//   node bench/lib/table.mjs bench/results/<time>/raw.txt
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BASE = 'haproxy';
const PRODUCT = 'kube-local-lb';
// `--node-floor`: a plain Node proxy, shown with its own ratio to HAProxy when it ran.
const FLOOR = 'node-pipe';

// better: 'higher' | 'lower' | undefined (a count that describes the run, not a score).
// never: the value -1 means "did not happen before the end of the run".
// count: a small count of events, whose ratio is taken of the totals over all repetitions (a
// per-repetition ratio of 1 failure against 0 says nothing).
const WRK = [
  { key: 'rps', label: 'requests/s', better: 'higher' },
  { key: 'p50_ms', label: 'latency p50, ms', better: 'lower' },
  { key: 'p99_ms', label: 'latency p99, ms', better: 'lower' },
  { key: 'cpu_us_per_req', label: 'proxy CPU per request, µs', better: 'lower' },
  { key: 'errors', label: 'errors', better: 'lower', count: true },
];
const FAILOVER = [
  { key: 'failed', label: 'failed requests', better: 'lower', count: true },
  { key: 'stall_ms', label: 'longest request, ms', better: 'lower' },
  { key: 'detect_ms', label: 'fault -> last request hurt by it, ms', better: 'lower' },
  { key: 'back_ms', label: 'heal -> first answer from it, ms', never: true },
];
export const FIGURES = {
  keepalive: WRK,
  newconn: WRK,
  bulk: [
    { key: 'mbps', label: 'MB/s, median download', better: 'higher' },
    { key: 'cpu_s_per_gb', label: 'proxy CPU per GB, s', better: 'lower' },
    { key: 'errors', label: 'incomplete downloads', better: 'lower', count: true },
  ],
  memory: [
    { key: 'rss_idle_kb', label: 'RSS idle, kB', better: 'lower' },
    { key: 'rss_held_kb', label: 'RSS holding the connections, kB', better: 'lower' },
    { key: 'pss_kb_per_conn', label: 'PSS per held connection, kB', better: 'lower' },
    { key: 'rss_kb_per_conn', label: 'RSS per held connection, kB', better: 'lower' },
  ],
  'failover-stop': FAILOVER,
  'failover-kill': FAILOVER,
  'failover-netns': FAILOVER,
  eject: [
    { key: 'pinned', label: 'connections on the frozen backend', count: true },
    { key: 'closed', label: 'of those, closed by the proxy', better: 'higher', count: true },
    { key: 'close_ms_max', label: 'fault -> last of them closed, ms', better: 'lower', never: true },
    { key: 'collateral', label: 'other connections closed', better: 'lower', count: true },
  ],
  rebalance: [
    { key: 'balance_s', label: 'revival -> every proxy within one of even, s', better: 'lower', never: true },
    { key: 'rebalanced', label: 'connections closed to rebalance', count: true },
    { key: 'failed', label: 'requests failed after revival', better: 'lower', count: true },
    { key: 'failed_at_kill', label: 'requests failed by the kill', count: true },
    { key: 'reconnect_peak_per_s', label: 'reconnects at a survivor after the kill, peak/s', better: 'lower' },
    { key: 'revived_peak_per_s', label: 'reconnects at the revived backend, peak/s', better: 'lower' },
    { key: 'on_revived_at_end', label: 'connections on the revived backend at the end', better: 'higher' },
  ],
  herd: [
    { key: 'pinned', label: 'connections on the frozen backend', count: true },
    { key: 'closed', label: 'of those, closed by the proxy', better: 'higher', count: true },
    { key: 'close_ms_first', label: 'fault -> first of them closed, ms' },
    { key: 'close_ms_max', label: 'fault -> last of them closed, ms', better: 'lower', never: true },
    { key: 'reconnect_peak_per_s', label: 'reconnects at a survivor, peak/s', better: 'lower' },
    { key: 'failed', label: 'requests failed', better: 'lower', count: true },
  ],
  checkcost: [
    { key: 'backend_us_per_check', label: 'backend CPU per check, µs', better: 'lower' },
    { key: 'conns_per_check', label: 'new connections per check', better: 'lower' },
    { key: 'proxy_us_per_check', label: 'proxy CPU per check, µs', better: 'lower' },
    { key: 'checks_per_s', label: 'checks/s seen by the backends' },
  ],
};

/** "scenario=x proxy=y rep=1 k=v ..." -> { scenario, proxy, rep, k: v }; comments -> undefined. */
export function parseLine(line) {
  if (!line.trim() || line.startsWith('#')) return undefined;
  const o = {};
  for (const field of line.trim().split(/\s+/)) {
    const eq = field.indexOf('=');
    if (eq > 0) o[field.slice(0, eq)] = field.slice(eq + 1);
  }
  return o.scenario && o.proxy ? o : undefined;
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function fmt(v) {
  if (v === Infinity) return 'never';
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 100) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
  if (a >= 1 || a === 0) return v.toFixed(2).replace(/\.?0+$/, '');
  return String(Number(v.toPrecision(2)));
}

function valueOf(record, figure) {
  const raw = record[figure.key];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (figure.never && v === -1) return Infinity;
  return Number.isFinite(v) ? v : undefined;
}

/**
 * Paired ratios product/base, one per repetition where both have a finite value; for a count,
 * the one ratio of the totals.
 */
function ratios(records, scenario, figure, product = PRODUCT) {
  let out = [];
  const reps = new Set(records.filter((r) => r.scenario === scenario).map((r) => r.rep));
  for (const rep of reps) {
    const find = (proxy) => records.find((r) => r.scenario === scenario && r.proxy === proxy && r.rep === rep);
    const b = find(BASE);
    const p = find(product);
    if (!b || !p) continue;
    const vb = valueOf(b, figure);
    const vp = valueOf(p, figure);
    if (vb === undefined || vp === undefined || !Number.isFinite(vb) || !Number.isFinite(vp)) continue;
    if (vb === 0 && !figure.count) {
      if (vp === 0) out.push(1);
      continue;
    }
    out.push(figure.count ? [vp, vb] : vp / vb);
  }
  if (figure.count && out.length) {
    const [p, b] = out.reduce(([sp, sb], [vp, vb]) => [sp + vp, sb + vb], [0, 0]);
    out = b === 0 ? (p === 0 ? [1] : []) : [p / b];
  }
  return out;
}

/** The median ratio product/HAProxy with its range over the repetitions, or '-'. */
function ratioText(records, scenario, figure, product) {
  const rs = ratios(records, scenario, figure, product);
  if (!rs.length) return '-';
  let text = fmt(median(rs));
  if (rs.length > 1) text += ` [${fmt(Math.min(...rs))}-${fmt(Math.max(...rs))}]`;
  return text;
}

function cell(records, scenario, proxy, figure) {
  const mine = records.filter((r) => r.scenario === scenario && r.proxy === proxy);
  const values = mine.map((r) => valueOf(r, figure)).filter((v) => v !== undefined);
  if (values.length === 0) {
    const err = mine.find((r) => r.error)?.error;
    return err ? `error: ${err}` : '-';
  }
  return fmt(median(values));
}

/** The markdown table for `records` (parsed result lines). */
export function table(records) {
  const reps = new Set(records.map((r) => r.rep)).size;
  const floor = records.some((r) => r.proxy === FLOOR);
  const lines = [
    `| scenario | figure | | HAProxy | kube-local-lb | kube-local-lb / HAProxy |${floor ? ' plain Node proxy | plain Node / HAProxy |' : ''}`,
    `|---|---|:-:|--:|--:|--:|${floor ? '--:|--:|' : ''}`,
  ];
  const scenarios = [...new Set(records.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    const mine = records.filter((r) => r.scenario === scenario);
    const skipped = mine.find((r) => r.skipped);
    if (skipped) {
      lines.push(`| ${scenario} | skipped: ${skipped.skipped.replace(/_/g, ' ')} | | | | |`);
      continue;
    }
    const floorHere = floor && mine.some((r) => r.proxy === FLOOR);
    for (const figure of FIGURES[scenario] ?? []) {
      const arrow = figure.better === 'higher' ? '↑' : figure.better === 'lower' ? '↓' : '';
      let row = `| ${scenario} | ${figure.label} | ${arrow} | ${cell(records, scenario, BASE, figure)} | ${cell(records, scenario, PRODUCT, figure)} | ${ratioText(records, scenario, figure, PRODUCT)} |`;
      if (floor) row += floorHere ? ` ${cell(records, scenario, FLOOR, figure)} | ${ratioText(records, scenario, figure, FLOOR)} |` : ' | |';
      lines.push(row);
    }
  }
  const variant = records.some((r) => (r.scenario === 'eject' || r.scenario === 'herd') && r.variant) ? ' In eject and herd, HAProxy runs with `on-marked-down shutdown-sessions`.' : '';
  return [
    `Medians over ${reps} repetition${reps === 1 ? '' : 's'}; the ratio is the median of the per-repetition ratios` +
      `${reps > 1 ? ' [lowest-highest]' : ''}, for counts (failures, errors, connections) the ratio of the totals. ↑ higher is better, ↓ lower is better; "never": not before the end of the run.${variant}`,
    '',
    ...lines,
  ].join('\n');
}

// ---- --real-cluster ----------------------------------------------------------------------------

/** The issue's targets for kube-local-lb in kill, stop, term and partition (etcd: whatever the apiservers cannot answer). */
export const REAL_TARGETS = { leaseGapMs: 15000, strict: ['kubelet-kill', 'kubelet-stop', 'kubelet-term', 'kubelet-partition'] };
const REAL_ORDER = ['kube-local-lb', 'haproxy', 'nginx'];
const REAL_LABELS = { 'kube-local-lb': 'kube-local-lb', haproxy: 'HAProxy', nginx: 'nginx' };

/** How far kube-local-lb's worst figures of `scenario` are from the issue's targets: '' when met. */
function missedTargets(scenario, worst) {
  const out = [];
  if (worst.lease_gap_ms_max > REAL_TARGETS.leaseGapMs) {
    // With etcd stopped for 40 s no apiserver can write a Lease, through any proxy.
    out.push(`lease gap +${worst.lease_gap_ms_max - REAL_TARGETS.leaseGapMs} ms over 15000${scenario === 'kubelet-etcd' ? ' (no apiserver can write while etcd is down)' : ''}`);
  }
  if (scenario === 'kubelet-etcd' && worst.sessions_reset > 0) out.push(`${worst.sessions_reset} sessions reset`);
  if (REAL_TARGETS.strict.includes(scenario)) {
    if (worst.renew_failed > 0) out.push(`${worst.renew_failed} renewal${worst.renew_failed === 1 ? '' : 's'} failed`);
    if (worst.requests_failed > 0) out.push(`${worst.requests_failed} kubectl call${worst.requests_failed === 1 ? '' : 's'} failed`);
  }
  return out.join(', ');
}

/**
 * The table of a --real-cluster run: one row per scenario and proxy, the worst value over the
 * repetitions (longest gaps, most failures), and whether kube-local-lb met the issue's targets.
 */
export function realTable(records) {
  const reps = new Set(records.map((r) => r.rep)).size;
  const lines = [
    '| scenario | proxy | longest lease gap, ms | renewals failed / ok | longest watch gap, ms | kubectl failed / calls | apiservers marked down | sessions reset by the proxy | none ready | kube-local-lb targets |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  const keys = ['lease_gap_ms_max', 'renew_failed', 'renew_ok', 'watch_gap_ms_max', 'requests', 'requests_failed', 'marked_down', 'sessions_reset', 'no_backend'];
  for (const scenario of [...new Set(records.map((r) => r.scenario))]) {
    const proxies = [...new Set(records.filter((r) => r.scenario === scenario).map((r) => r.proxy))]
      .sort((a, b) => REAL_ORDER.indexOf(a) - REAL_ORDER.indexOf(b));
    for (const proxy of proxies) {
      const mine = records.filter((r) => r.scenario === scenario && r.proxy === proxy);
      const good = mine.filter((r) => !r.error);
      const label = REAL_LABELS[proxy] ?? proxy;
      if (!good.length) {
        lines.push(`| ${scenario} | ${label} | error: ${(mine[0]?.error ?? '').replace(/_/g, ' ').replace(/\|/g, '/')} | | | | | | | |`);
        continue;
      }
      const worst = {};
      for (const k of keys) {
        const values = good.map((r) => Number(r[k])).filter(Number.isFinite);
        // The worst run for every figure; renewals that succeeded and calls made: the fewest.
        worst[k] = values.length ? (k === 'renew_ok' || k === 'requests' ? Math.min(...values) : Math.max(...values)) : NaN;
      }
      const n = (v) => (Number.isFinite(v) ? String(v) : '-');
      const target = proxy === 'kube-local-lb' ? missedTargets(scenario, worst) || 'met' : '';
      lines.push(`| ${scenario} | ${label} | ${n(worst.lease_gap_ms_max)} | ${n(worst.renew_failed)} / ${n(worst.renew_ok)} | ${n(worst.watch_gap_ms_max)} | ` +
        `${n(worst.requests_failed)} / ${n(worst.requests)} | ${n(worst.marked_down)} | ${proxy === 'kube-local-lb' ? n(worst.sessions_reset) : '-'} | ` +
        `${Number.isFinite(worst.no_backend) ? (worst.no_backend > 0 ? 'yes' : 'no') : '-'} | ${target} |`);
    }
  }
  return [
    `${reps === 1 ? 'One run' : `The worst of ${reps} runs`} per scenario and proxy. Targets for kube-local-lb: longest lease gap <= ${REAL_TARGETS.leaseGapMs} ms ` +
      'in every scenario; no failed renewal and no failed kubectl call in kill, stop, term and partition. ' +
      '"sessions reset": connections kube-local-lb closed itself (only kube-local-lb logs them). "none ready": at some point the proxy ' +
      'held no apiserver ready; kube-local-lb then sends new sessions to the answering (draining) ones (panic mode), HAProxy refuses them ' +
      '("no server available"), nginx tries each in turn ("no live upstreams" when all failed).',
    '',
    ...lines,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/lib/table.mjs RAW.txt\n');
    process.exit(2);
  }
  const records = readFileSync(file, 'utf8').split('\n').map(parseLine).filter(Boolean);
  const real = records.length > 0 && records.every((r) => r.scenario.startsWith('kubelet-'));
  process.stdout.write(`${real ? realTable(records) : table(records)}\n`);
}
