// bench/run.sh's body: checks what the run needs, starts the backends, runs every scenario for
// HAProxy and kube-local-lb back to back (order alternating between repetitions), and writes
// the result lines and the table to bench/results/<time>/.
import { spawnSync } from 'node:child_process';
import { accessSync, appendFileSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { COUNTERS_OFFSET, Fleet } from './fleet.mjs';
import { inNodeNamespace, Netns, NS_IP, rerunInNodeNamespace } from './netns.mjs';
import { canConnect, killEverything, within } from './procs.mjs';
import { FLOOR_PROXY, FLOOR_SCENARIOS, PROXIES } from './proxies.mjs';
import { runScenario, SCENARIOS } from './scenarios.mjs';
import { fleetPorts } from './fleet-scenarios.mjs';
import { parseLine, realTable, table } from './table.mjs';
import { checkRealPrerequisites, REAL_PROXIES, REAL_SCENARIOS, REAL_TIMING, runRealCluster, timingFor } from './real-cluster.mjs';

const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO = path.resolve(BENCH_DIR, '..');

const HELP = `usage: bench/run.sh [--quick] [--tls] [--scenarios a,b,...] [--reps N] [options]
       bench/run.sh --real-cluster [--scenarios kubelet-kill,...] [--real-proxies LIST] [--duration S]

Runs HAProxy and kube-local-lb side by side on this machine, each scenario for both proxies
back to back, and prints a markdown table: medians over the repetitions and the ratio
kube-local-lb / HAProxy. Results go to bench/results/<time>/. See bench/README.md.

  --quick               1 repetition, short durations: a smoke run of ~3-4 minutes
  --tls                 backends speak HTTPS (test CA, name "kubernetes"); clients use TLS
                        through the proxies, checks use TLS
  --scenarios LIST      comma-separated, from: keepalive, newconn, bulk, memory,
                        failover-stop, failover-kill, failover-netns, eject, checkcost,
                        rebalance, herd (default: all; failover-netns needs root and is
                        skipped otherwise). rebalance and herd run --proxies proxies of each
                        kind at once, one per node, with --conns redialling connections each
  --reps N              repetitions (default 3, or 1 with --quick)
  --out DIR             where to write the results (default bench/results/<time>)
  --port-base P         proxy on P, backends on P+1.., their counters on P+${COUNTERS_OFFSET + 1}.. (default 26440)
  --backends N          number of nginx backends (default 3)
  --proxies N           proxies of each kind in rebalance and herd, on P+100.. (default 20)
  --conns N             long-lived connections per proxy in rebalance and herd (default 10)
  --kube-local-lb-arg A extra flag for kube-local-lb run (repeat; e.g. --kube-local-lb-arg=--replay=always)
  --node-floor          also run a plain Node proxy (bench/lib/node-pipe.mjs: 'data', write,
                        pause/resume, nothing else) in keepalive, newconn, bulk and memory: what
                        Node's streams cost before any product code, measured in the same run
  --keep-scratch        keep the scratch directory (configs, certificates, logs) after the run
  -h, --help            this text

What kubelet sees, against the real control plane (root; test/real-cluster/build.sh built, and
npm run build:test for the harness the bench imports; haproxy and nginx with its stream module):
  --real-cluster        etcd and three real kube-apiservers in network namespaces; per scenario
                        and proxy, kubelet-sim (Lease renewals every 10 s, a pod informer) and
                        kubectl every 500 ms through the proxy for 90 s; at 20 s the fault hits
                        the apiserver holding kubelet-sim's connection (kubelet-etcd: etcd is
                        stopped), at 60 s it is healed. Proxies: kube-local-lb (defaults,
                        anonymous /readyz), HAProxy (kubeadm's HA guide, check-ssl GET /readyz),
                        nginx (kubespray's nginx-proxy: passive max_fails/fail_timeout only).
                        ~30 min for everything. Scenarios (--scenarios): kubelet-kill,
                        kubelet-stop, kubelet-term, kubelet-partition, kubelet-etcd
  --real-proxies LIST   with --real-cluster: comma-separated, from: ${REAL_PROXIES.join(', ')} (default: all)
  --duration S          with --real-cluster: seconds per run, 20 to 600 (default 90); fault and
                        heal at the same shares of it (2/9 and 2/3). Published figures use 90
  --reps, --out, --kube-local-lb-arg and --keep-scratch apply as above; --reps defaults to 1
`;

const FULL = {
  reps: 3, warmS: 2, wrkS: 10, bulkN: 10, memConns: 2000, settleMs: 2500,
  foIntervalMs: 20, foDurationMs: 15000, foFaultMs: 5000, foHealMs: 10000, foTimeoutMs: 3000,
  ejectConns: 30, ejectFaultMs: 3000, ejectWatchMs: 15000, checkIntervalMs: 50, checkSettleMs: 5000, checkWindowS: 20,
  fleetProxies: 20, fleetConns: 10, fleetHoldMs: 400000, rebalanceDownMs: 8000, rebalanceWatchMs: 150000, herdSettleMs: 20000, herdWatchMs: 15000,
};
const QUICK = {
  ...FULL, reps: 1, warmS: 2, wrkS: 3, bulkN: 3,
  foDurationMs: 10000, foFaultMs: 3000, foHealMs: 7000, ejectFaultMs: 1000, ejectWatchMs: 8000, checkSettleMs: 3000, checkWindowS: 6,
  rebalanceWatchMs: 90000, herdSettleMs: 8000,
};

function usageError(msg) {
  process.stderr.write(`bench: ${msg}\n(bench/run.sh --help lists the options)\n`);
  process.exit(2);
}

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        tls: { type: 'boolean', default: false },
        scenarios: { type: 'string' },
        reps: { type: 'string' },
        out: { type: 'string' },
        'port-base': { type: 'string', default: '26440' },
        backends: { type: 'string', default: '3' },
        proxies: { type: 'string', default: '20' },
        conns: { type: 'string', default: '10' },
        'kube-local-lb-arg': { type: 'string', multiple: true, default: [] },
        'keep-scratch': { type: 'boolean', default: false },
        'node-floor': { type: 'boolean', default: false },
        'real-cluster': { type: 'boolean', default: false },
        'real-proxies': { type: 'string' },
        duration: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    usageError(err.message);
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  if (parsed['real-cluster']) return parseRealOptions(argv, parsed);
  for (const flag of ['real-proxies', 'duration']) if (parsed[flag] !== undefined) usageError(`--${flag} applies only with --real-cluster`);
  const settings = { ...(parsed.quick ? QUICK : FULL) };
  if (parsed.reps !== undefined) {
    settings.reps = Number(parsed.reps);
    if (!Number.isInteger(settings.reps) || settings.reps < 1 || settings.reps > 50) usageError(`--reps: "${parsed.reps}" is not a number from 1 to 50`);
  }
  const scenarios = parsed.scenarios ? parsed.scenarios.split(',').map((s) => s.trim()).filter(Boolean) : SCENARIOS;
  for (const s of scenarios) if (!SCENARIOS.includes(s)) usageError(`--scenarios: "${s}" is not one of ${SCENARIOS.join(', ')}`);
  const portBase = Number(parsed['port-base']);
  if (!Number.isInteger(portBase) || portBase < 1024 || portBase > 65000) usageError(`--port-base: "${parsed['port-base']}" is not a port from 1024 to 65000`);
  const backends = Number(parsed.backends);
  if (!Number.isInteger(backends) || backends < 2 || backends > 9) usageError(`--backends: "${parsed.backends}" is not a number from 2 to 9`);
  for (const [flag, key, max] of [['proxies', 'fleetProxies', 100], ['conns', 'fleetConns', 200]]) {
    const v = Number(parsed[flag]);
    if (!Number.isInteger(v) || v < 1 || v > max) usageError(`--${flag}: "${parsed[flag]}" is not a number from 1 to ${max}`);
    settings[key] = v;
  }
  return { ...parsed, settings, scenarios, portBase, backendCount: backends };
}

/** --real-cluster's options: its own scenarios and proxies; flags of the other mode are refused. */
function parseRealOptions(argv, parsed) {
  for (const flag of ['quick', 'tls', 'node-floor', 'port-base', 'backends', 'proxies', 'conns']) {
    if (argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`))) usageError(`--${flag} does not apply to --real-cluster`);
  }
  const list = (flag, all) => {
    if (parsed[flag] === undefined) return all;
    const names = parsed[flag].split(',').map((s) => s.trim()).filter(Boolean);
    if (!names.length) usageError(`--${flag}: "${parsed[flag]}" names none of ${all.join(', ')}`);
    for (const n of names) if (!all.includes(n)) usageError(`--${flag}: "${n}" is not one of ${all.join(', ')}`);
    return names;
  };
  const scenarios = list('scenarios', REAL_SCENARIOS);
  const proxies = list('real-proxies', REAL_PROXIES);
  let reps = 1;
  if (parsed.reps !== undefined) {
    reps = Number(parsed.reps);
    if (!/^\d+$/.test(parsed.reps) || reps < 1 || reps > 10) usageError(`--reps: "${parsed.reps}" is not a number from 1 to 10`);
  }
  let timing = REAL_TIMING;
  if (parsed.duration !== undefined) {
    const s = Number(parsed.duration);
    if (!/^\d+$/.test(parsed.duration) || s < 20 || s > 600) usageError(`--duration: "${parsed.duration}" is not a number of seconds from 20 to 600`);
    timing = timingFor(s);
  }
  return { ...parsed, real: true, scenarios, proxies, reps, timing, settings: { reps } };
}

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(path.join(dir || '.', cmd), constants.X_OK);
      return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

/** Names everything missing, and how to get it; exits 1 if anything is. */
function checkPrerequisites(needIp) {
  const problems = [];
  const missing = ['haproxy', 'nginx', 'wrk', 'curl', ...(needIp ? ['ip'] : [])].filter((c) => !onPath(c));
  if (missing.length) {
    problems.push(`not found on PATH: ${missing.join(', ')}; install what the bench drives with: ` +
      `apt-get install -y haproxy nginx wrk curl${missing.includes('ip') ? ' iproute2' : ''}`);
  }
  if (!existsSync(path.join(REPO, 'node_modules', 'yargs'))) problems.push(`no node_modules in ${REPO}: run npm ci && npm run build there`);
  if (!existsSync(path.join(REPO, 'dist', 'main.js')) || !existsSync(path.join(REPO, 'dist', 'pki', 'index.js'))) {
    problems.push(`no build in ${REPO}/dist: run npm ci && npm run build there`);
  }
  if (problems.length) {
    for (const p of problems) process.stderr.write(`bench: ${p}\n`);
    process.exit(1);
  }
  checkBuildFresh();
}

function checkBuildFresh() {
  const built = statSync(path.join(REPO, 'dist', 'main.js')).mtimeMs;
  const newest = newestMtime(path.join(REPO, 'src'));
  if (newest > built) process.stderr.write('bench: warning: src/ has changed since the last build; run npm run build to measure it\n');
}

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim();
}

function describeMachine(o, extra = []) {
  const git = spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', timeout: 5000 }).stdout?.trim() || 'unknown';
  const dirty = spawnSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'src', 'package.json'], { encoding: 'utf8', timeout: 5000 }).stdout?.trim() ? '+changes' : '';
  const version = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
  return [
    `# kube-local-lb bench, started ${new Date().toISOString()}`,
    (o.real
      ? `# mode=real-cluster reps=${o.reps} proxies=${o.proxies.join(',')} scenarios=${o.scenarios.join(',')}`
      : `# mode=${o.tls ? 'tls' : 'plain'} reps=${o.settings.reps} quick=${o.quick ? 1 : 0} backends=${o.backendCount} scenarios=${o.scenarios.join(',')}`) +
      (o['kube-local-lb-arg'].length ? ` kube-local-lb-args=${o['kube-local-lb-arg'].join(',')}` : ''),
    `# machine: ${os.cpus().length} cpus, ${os.type()} ${os.release()}, load at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `# kube-local-lb ${version} (git ${git}${dirty}), node ${process.version}; ${firstLine('haproxy', ['-v'])}; ${firstLine('nginx', ['-v'])}` +
      (o.real ? '' : `; ${firstLine('wrk', ['-v']).split(' [')[0]}`),
    ...extra,
  ];
}

function stamp() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** key=value text of a result: spaces never appear inside a value. */
function fields(figures) {
  return Object.entries(figures).map(([k, v]) => `${k}=${String(v).replace(/\s+/g, '_').slice(0, 160)}`).join(' ');
}

async function makeTls(scratch) {
  const { createCa, issueCert } = await import(pathToFileURL(path.join(REPO, 'dist', 'pki', 'index.js')).href);
  const ca = createCa({ commonName: 'kube-local-lb bench CA', validDays: 2 });
  const leaf = issueCert(ca, {
    commonName: 'kube-apiserver',
    dnsNames: ['kubernetes', 'kubernetes.default', 'localhost'],
    ipAddresses: ['127.0.0.1', NS_IP],
    usage: 'server',
    validDays: 2,
  });
  const dir = path.join(scratch, 'tls');
  mkdirSync(dir, { recursive: true });
  const files = { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') };
  writeFileSync(files.caFile, ca.certPem);
  writeFileSync(files.certFile, leaf.certPem);
  writeFileSync(files.keyFile, leaf.keyPem, { mode: 0o600 });
  return { ...files, caPem: ca.certPem };
}

/** Opens the results directory and its log; both modes write the same files. */
function openResults(o, suffix) {
  const outDir = path.resolve(o.out ?? path.join(BENCH_DIR, 'results', `${stamp()}${suffix}`));
  const detailDir = path.join(outDir, 'detail');
  mkdirSync(detailDir, { recursive: true });
  const logFile = path.join(outDir, 'log.txt');
  const log = (msg) => {
    const line = `[${new Date().toISOString().slice(11, 19)}] ${msg}`;
    process.stderr.write(`${line}\n`);
    appendFileSync(logFile, `${line}\n`);
  };
  return { outDir, detailDir, rawFile: path.join(outDir, 'raw.txt'), log };
}

/** bench/run.sh --real-cluster: see real-cluster.mjs. Returns the exit code. */
async function mainReal(o) {
  const found = await checkRealPrerequisites(REPO, onPath);
  if (found.problems) {
    for (const p of found.problems) process.stderr.write(`bench: ${p}\n`);
    return 1;
  }
  checkBuildFresh();
  const { outDir, detailDir, rawFile, log } = openResults(o, '-real-cluster');
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'klb-bench-'));
  chmodSync(scratch, 0o755);
  let cluster;
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      log(`${sig}: stopping every process the bench started and the control plane`);
      killEverything();
      // The cluster's processes live in its namespaces: stop() kills them by PID and deletes those.
      void within(cluster?.stop() ?? Promise.resolve(), 15000).finally(() => {
        if (!o['keep-scratch']) rmSync(scratch, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }
  process.on('exit', () => killEverything());
  const versions = spawnSync('bash', [path.join(REPO, 'test', 'real-cluster', 'build.sh'), '--print'], { encoding: 'utf8', timeout: 10000 }).stdout
    .trim().split('\n').map((l) => l.split('=')[1]?.split('/').at(-2)).filter(Boolean).join(', ');
  const header = describeMachine(o, [`# control plane: ${versions}; timing: ${o.timing.durationMs / 1000} s per run, fault at ${o.timing.faultMs / 1000} s, healed at ${o.timing.healMs / 1000} s`]);
  writeFileSync(rawFile, `${header.join('\n')}\n`);
  for (const h of header) log(h.slice(2));
  log(`results: ${outDir}; scratch: ${scratch}`);
  const records = [];
  const t0 = Date.now();
  try {
    await runRealCluster({
      helpers: found.helpers,
      binaries: found.binaries,
      streamModule: found.streamModule,
      scenarios: o.scenarios,
      proxies: o.proxies,
      reps: o.reps,
      timing: o.timing,
      kubeLocalLbArgs: o['kube-local-lb-arg'],
      scratch,
      detailDir,
      log,
      onCluster: (c) => (cluster = c),
      emit: (scenario, proxy, rep, figures) => {
        const line = `scenario=${scenario} proxy=${proxy} rep=${rep} ${fields(figures)}`;
        records.push(parseLine(line));
        appendFileSync(rawFile, `${line}\n`);
        process.stdout.write(`${line}\n`);
      },
    });
  } finally {
    if (o['keep-scratch']) log(`scratch kept: ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  }
  const elapsed = Math.round((Date.now() - t0) / 1000);
  appendFileSync(rawFile, `# finished ${new Date().toISOString()}, ${elapsed} s\n`);
  const text = `${realTable(records)}\n\n${header.map((h) => h.replace(/^# /, '- ')).join('\n')}\n- elapsed ${elapsed} s\n`;
  writeFileSync(path.join(outDir, 'table.md'), text);
  process.stdout.write(`\n${text}`);
  log(`done in ${elapsed} s: ${path.relative(process.cwd(), outDir) || outDir}/{table.md,raw.txt,log.txt,detail/}`);
  return 0;
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  if (o.real) process.exit(await mainReal(o));
  const isRoot = process.getuid?.() === 0;
  checkPrerequisites(isRoot && o.scenarios.includes('failover-netns'));
  // failover-netns needs a namespace of its own for backend 1; the whole run moves into a node
  // namespace so that the root namespace's interfaces are never touched.
  if (isRoot && o.scenarios.includes('failover-netns') && !inNodeNamespace()) process.exit(await rerunInNodeNamespace());

  const proxyPort = o.portBase;
  const ports = [proxyPort];
  for (let i = 1; i <= o.backendCount; i++) ports.push(o.portBase + i, o.portBase + i + COUNTERS_OFFSET);
  if (o.scenarios.includes('rebalance') || o.scenarios.includes('herd')) ports.push(...fleetPorts(o.portBase, o.settings.fleetProxies));
  for (const port of ports) {
    if (await canConnect('127.0.0.1', port, 500)) {
      process.stderr.write(`bench: 127.0.0.1:${port} is in use (another run?); pick other ports with --port-base\n`);
      process.exit(1);
    }
  }

  if (isRoot && o.scenarios.includes('failover-netns')) {
    try {
      await Netns.checkFree();
    } catch (err) {
      process.stderr.write(`bench: ${err.message}\n`);
      process.exit(1);
    }
  }

  const outDir = path.resolve(o.out ?? path.join(BENCH_DIR, 'results', `${stamp()}${o.tls ? '-tls' : ''}${o.quick ? '-quick' : ''}`));
  const detailDir = path.join(outDir, 'detail');
  mkdirSync(detailDir, { recursive: true });
  const rawFile = path.join(outDir, 'raw.txt');
  const logFile = path.join(outDir, 'log.txt');
  const log = (msg) => {
    const line = `[${new Date().toISOString().slice(11, 19)}] ${msg}`;
    process.stderr.write(`${line}\n`);
    appendFileSync(logFile, `${line}\n`);
  };

  const scratch = mkdtempSync(path.join(os.tmpdir(), 'klb-bench-'));
  const ctx = {
    settings: o.settings,
    proxyPort,
    portBase: o.portBase,
    scratch,
    detailDir,
    repoRoot: REPO,
    kubeLocalLbArgs: o['kube-local-lb-arg'],
    tls: undefined,
    fleet: undefined,
    rep: 0,
    onInterrupt: new Set(),
    tag: (scenario, name) => `r${ctx.rep}-${scenario}-${name}`,
  };
  const cleanUpNow = () => {
    killEverything();
    for (const ns of ctx.onInterrupt) ns.removeSync(spawnSync);
    if (!o['keep-scratch']) rmSync(scratch, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      log(`${sig}: stopping every process the bench started`);
      cleanUpNow();
      process.exit(130);
    });
  }
  process.on('exit', () => killEverything());

  const header = describeMachine(o);
  writeFileSync(rawFile, `${header.join('\n')}\n`);
  for (const h of header) log(h.slice(2));
  log(`results: ${outDir}; scratch: ${scratch}`);
  if (!isRoot && o.scenarios.includes('failover-netns')) log('not root: failover-netns will be skipped (it needs a network namespace)');

  const records = [];
  const t0 = Date.now();
  let fleet;
  try {
    ctx.tls = o.tls ? await makeTls(scratch) : undefined;
    fleet = new Fleet({ scratch, count: o.backendCount, portBase: o.portBase, workers: 2, tls: ctx.tls, log });
    ctx.fleet = fleet;
    fleet.writeContent();
    for (const b of fleet.backends) await fleet.start(b);
    await fleet.ensureAll();
    log(`backends up: ${fleet.addresses().join(' ')} (${o.tls ? 'https' : 'http'})`);
    for (let rep = 1; rep <= o.settings.reps; rep++) {
      ctx.rep = rep;
      for (const scenario of o.scenarios) {
        const names = o['node-floor'] && FLOOR_SCENARIOS.includes(scenario) ? [...PROXIES, FLOOR_PROXY] : PROXIES;
        const order = rep % 2 === 1 ? names : [...names].reverse();
        for (const name of order) {
          log(`rep ${rep}/${o.settings.reps}: ${scenario} with ${name}`);
          let figures;
          try {
            await fleet.ensureAll();
            figures = await runScenario(ctx, scenario, name);
          } catch (err) {
            log(`${scenario} with ${name} failed: ${err.stack ?? err}`);
            figures = { error: String(err.message ?? err) };
          }
          const line = `scenario=${scenario} proxy=${name} rep=${rep} ${fields(figures)}`;
          records.push(parseLine(line));
          appendFileSync(rawFile, `${line}\n`);
          process.stdout.write(`${line}\n`);
        }
      }
    }
  } finally {
    await fleet?.stopAll();
    if (o['keep-scratch']) log(`scratch kept: ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  }
  const elapsed = Math.round((Date.now() - t0) / 1000);
  appendFileSync(rawFile, `# finished ${new Date().toISOString()}, ${elapsed} s\n`);
  const text = `${table(records)}\n\n${header.map((h) => h.replace(/^# /, '- ')).join('\n')}\n- elapsed ${elapsed} s\n`;
  writeFileSync(path.join(outDir, 'table.md'), text);
  process.stdout.write(`\n${text}`);
  log(`done in ${elapsed} s: ${path.relative(process.cwd(), outDir) || outDir}/{table.md,raw.txt,log.txt,detail/}`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  killEverything();
  process.exit(1);
});
