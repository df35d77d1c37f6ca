// bench/run.sh --real-cluster: what kubelet sees through each proxy when one of three real
// kube-apiservers fails. The control plane (etcd, three apiservers, each in a network namespace of
// its own, and a "node" namespace where the proxy and its clients run) comes from the test
// harness, test/helpers/real-cluster.ts and real-node.ts, compiled by `npm run build:test`: the
// bench imports the compiled helpers rather than keeping a second copy of them.
//
// Each run: one proxy fresh on the node's 127.0.0.1:6444, kubelet-sim (Lease renewals every 10 s
// and a pod informer over one HTTP/2 connection) and kubectl every 500 ms through it for 90 s;
// at 20 s the fault hits the apiserver that holds kubelet-sim's connection (or etcd itself), at
// 60 s it is healed; kubelet-sim's summary at 90 s gives the figures.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { nginxStreamModule, realHaproxyConfig, realNginxConfig } from './proxies.mjs';
import { runCommand, startDaemon, stopDaemon, within } from './procs.mjs';

export const REAL_SCENARIOS = ['kubelet-kill', 'kubelet-stop', 'kubelet-term', 'kubelet-partition', 'kubelet-etcd'];
export const REAL_PROXIES = ['kube-local-lb', 'haproxy', 'nginx'];
/** The timing: 90 s of traffic, the fault at 20 s, healed at 60 s. */
export const REAL_TIMING = { durationMs: 90_000, faultMs: 20_000, healMs: 60_000 };
/** Where every proxy listens inside the node namespace: kube-local-lb's default, as on a node. */
const LISTEN_PORT = 6444;

/** The same share of the run as the 20 s and 60 s of 90 s, for --duration. */
export function timingFor(durationS) {
  return { durationMs: durationS * 1000, faultMs: Math.round((durationS * 1000 * 2) / 9), healMs: Math.round((durationS * 1000 * 2) / 3) };
}

const HELPERS = ['real-cluster.js', 'real-node.js'];

/**
 * The compiled harness, or a problem naming the command that provides it. The helpers are
 * TypeScript; `npm run build:test` compiles them into dist-test/.
 */
async function loadHelpers(repo) {
  const dir = path.join(repo, 'dist-test', 'test', 'helpers');
  const missing = HELPERS.filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length) return { problem: `no compiled test helpers (${missing.map((f) => path.join(dir, f)).join(', ')}): run npm run build:test in ${repo}` };
  const [cluster, node] = await Promise.all(HELPERS.map((f) => import(pathToFileURL(path.join(dir, f)).href)));
  return { cluster, node };
}

/**
 * Everything the real-cluster bench needs, or the list of what is missing, each with what
 * provides it. Returns { helpers, binaries, streamModule } or { problems }.
 */
export async function checkRealPrerequisites(repo, onPath) {
  const problems = [];
  const missing = ['haproxy', 'nginx', 'ss'].filter((c) => !onPath(c));
  if (missing.length) {
    const pkgs = missing.map((c) => (c === 'ss' ? 'iproute2' : c));
    problems.push(`not found on PATH: ${missing.join(', ')}; the real-cluster bench runs them: apt-get install -y ${pkgs.join(' ')}${missing.includes('nginx') ? ' libnginx-mod-stream' : ''}`);
  }
  let streamModule;
  if (!missing.includes('nginx')) {
    streamModule = await nginxStreamModule();
    if (streamModule instanceof Error) problems.push(streamModule.message);
  }
  if (!existsSync(path.join(repo, 'dist', 'main.js'))) problems.push(`no build in ${repo}/dist: run npm ci && npm run build there`);
  const helpers = await loadHelpers(repo);
  let binaries;
  if (helpers.problem) {
    problems.push(helpers.problem);
  } else {
    // Root, ip, unshare, nft, curl, kubectl and the built control plane, as the tests check them.
    const found = helpers.cluster.realClusterBinaries();
    if (typeof found === 'string') problems.push(`real cluster unavailable: ${found}`);
    else binaries = found;
  }
  return problems.length ? { problems } : { helpers, binaries, streamModule };
}

/** "IP:PORT IP:PORT" of every established TCP connection from the node namespace to an apiserver port. */
async function upstreamConnections(c) {
  const r = await c.nodeRun('ss', ['-Htn', 'state', 'established', '( dport = :6443 )'], 5_000);
  const out = new Set();
  for (const line of r.stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 4) out.add(`${f[2]} ${f[3]}`);
  }
  return out;
}

/**
 * The apiserver that holds kubelet-sim's connection: the one upstream connection that appeared
 * after kubelet-sim started and stays (the proxies' checks come and go, or were there before).
 * Read from the node's sockets, so that it works alike for every proxy. Returns its index or -1.
 */
async function findVictim(c, before) {
  let stable;
  for (let i = 0; i < 3; i++) {
    const now = await upstreamConnections(c);
    stable = stable ? new Set([...stable].filter((k) => now.has(k))) : now;
    await sleep(500);
  }
  const fresh = [...stable].filter((k) => !before.has(k));
  const perPeer = new Map();
  for (const k of fresh) {
    const peer = k.split(' ')[1];
    perPeer.set(peer, (perPeer.get(peer) ?? 0) + 1);
  }
  const [peer] = [...perPeer.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
  return c.apiservers.findIndex((a) => a.address === peer);
}

/** curl through the proxy in the node namespace, anonymously: the HTTP code of /readyz, or '000'. */
async function readyzThroughProxy(c) {
  const r = await c.nodeRun('curl', ['-s', '-m', '3', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', c.creds.caFile,
    '--resolve', `kubernetes:${LISTEN_PORT}:127.0.0.1`, `https://kubernetes:${LISTEN_PORT}/readyz`], 5_000);
  return r.stdout.trim() || '000';
}

/**
 * Starts proxy `name` in the node namespace, in front of every apiserver; resolves when three
 * /readyz in a row pass through it. Returns { figures(), stop() }: figures() reads what the
 * proxy itself logged (its verdicts) since it started.
 */
async function startRealProxy(env, name, tag) {
  const { c, node, detailDir, scratch, kubeLocalLbArgs, streamModule } = env;
  const backends = c.apiservers.map((a) => a.address);
  const listen = `127.0.0.1:${LISTEN_PORT}`;
  const logFile = path.join(detailDir, `${tag}-proxy.log`);
  let proxy;
  if (name === 'kube-local-lb') {
    // kube-local-lb at its defaults (checks of /readyz every 2 s, fall 2), anonymous as the
    // cluster allows, with the cluster's CA: what the faults tests run.
    const lb = await node.startNodeLb(c, [...backends.flatMap((b) => ['--backend', b]), '--health-auth', 'anonymous', ...kubeLocalLbArgs]);
    await lb.waitUp(backends.length, 60_000);
    const from = lb.records.length;
    proxy = {
      figures: () => {
        const mine = lb.records.slice(from);
        return {
          marked_down: mine.filter((r) => r.event === 'backend_state' && r.to === 'down').length,
          sessions_reset: mine.filter((r) => r.event === 'backend_ejected').reduce((n, r) => n + Number(r.sessions ?? 0), 0),
          no_backend: mine.filter((r) => r.event === 'panic_entered').length,
        };
      },
      stop: async () => {
        await within(lb.stop('SIGTERM'), 15_000);
        await lb.stop('SIGKILL');
        writeFileSync(logFile, `${lb.records.map((r) => JSON.stringify(r)).join('\n')}\n${lb.stderr()}`);
      },
    };
  } else {
    const cfg = path.join(scratch, `${name}.conf`);
    let args;
    if (name === 'haproxy') {
      writeFileSync(cfg, realHaproxyConfig({ listen, backends }));
      const check = await runCommand('haproxy', ['-c', '-q', '-f', cfg], { timeoutMs: 10_000 });
      if (check.code !== 0) throw new Error(`haproxy rejected ${cfg}: ${check.stderr.trim()}`);
      args = ['haproxy', '-db', '-f', cfg];
    } else {
      writeFileSync(cfg, realNginxConfig({ listen, backends, dir: scratch, streamModule }));
      args = ['nginx', '-e', 'stderr', '-p', scratch, '-c', cfg];
    }
    // `ip netns exec` execs the proxy: the daemon's PID is the proxy's own.
    const daemon = startDaemon(name, 'ip', ['netns', 'exec', c.nodeNs, ...args], { logFile });
    const logText = () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    };
    const count = (re) => (logText().match(re) ?? []).length;
    proxy = {
      figures: () => name === 'haproxy'
        ? { marked_down: count(/Server \S+ is DOWN/g), sessions_reset: 0, no_backend: count(/has no server available/g) }
        : { marked_down: count(/upstream server temporarily disabled/g), sessions_reset: 0, no_backend: count(/no live upstreams/g) },
      stop: () => stopDaemon(daemon, 12_000),
    };
  }
  let ok = 0;
  const deadline = Date.now() + 60_000;
  while (ok < 3) {
    if (Date.now() > deadline) {
      await proxy.stop();
      throw new Error(`${name} did not pass /readyz through ${listen} within 60 s; see ${logFile}`);
    }
    ok = (await readyzThroughProxy(c)) === '200' ? ok + 1 : 0;
    if (ok < 3) await sleep(300);
  }
  return proxy;
}

/** The faults: what happens at 20 s and what heals it at 60 s; `victim` is an apiserver's index. */
function faults(c, state) {
  const restart = async (i) => {
    // A SIGTERMed apiserver may still be closing its watches: give it 30 s, then SIGKILL.
    const a = c.apiservers[i];
    if (!(await within(a.proc.exit, 30_000))) {
      c.signal(i, 'SIGKILL');
      await a.proc.exit;
    }
    await c.startApiserver(i);
  };
  return {
    'kubelet-kill': { fault: (i) => c.signal(i, 'SIGKILL'), heal: restart },
    'kubelet-stop': { fault: (i) => c.signal(i, 'SIGSTOP'), heal: (i) => c.signal(i, 'SIGCONT') },
    'kubelet-term': { fault: (i) => c.signal(i, 'SIGTERM'), heal: restart },
    'kubelet-partition': {
      fault: (i) => {
        c.partition(i);
        state.partitioned.add(i);
      },
      heal: (i) => {
        c.heal(i);
        state.partitioned.delete(i);
      },
    },
    'kubelet-etcd': { fault: () => c.stopEtcd(), heal: () => c.startEtcd() },
  };
}

/** Every apiserver running and ready, etcd up, no partition: the start of every run. */
async function allUp(c, state) {
  for (const i of [...state.partitioned]) {
    c.heal(i);
    state.partitioned.delete(i);
  }
  const running = (p) => p && p.child.exitCode === null && p.child.signalCode === null;
  if (!running(c.etcd.proc)) await c.startEtcd();
  for (const a of c.apiservers) {
    if (running(a.proc)) c.signal(a.index, 'SIGCONT');
    else await c.startApiserver(a.index);
  }
  for (const a of c.apiservers) await c.waitReady(a.index);
}

/** One run of `scenario` through proxy `name`: the figures of its raw.txt line. */
async function runOne(env, scenario, name, tag) {
  const { c, node, binaries, timing, state, log, detailDir } = env;
  await allUp(c, state);
  const proxy = await startRealProxy(env, name, tag);
  const simKc = c.kubeconfig('sim-proxy', `https://127.0.0.1:${LISTEN_PORT}`, { token: c.creds.nodeToken });
  const adminKc = c.kubeconfig('admin-proxy', `https://127.0.0.1:${LISTEN_PORT}`, { token: c.creds.adminToken });
  let sim;
  let loop;
  let healing = Promise.resolve();
  try {
    const before = await upstreamConnections(c);
    sim = await node.startKubeletSim(c, binaries['kubelet-sim'], simKc);
    const t0 = Date.now();
    const found = scenario === 'kubelet-etcd' ? -1 : await findVictim(c, before);
    loop = node.kubectlLoop(c, adminKc, ['get', 'pods', '-n', 'default']);
    const victim = found >= 0 ? found : 0;
    if (scenario !== 'kubelet-etcd' && found < 0) log(`${scenario} with ${name}: kubelet-sim's apiserver not found among the node's connections; the fault hits ${c.apiservers[0].name}`);
    const { fault, heal } = faults(c, state)[scenario];
    const at = (ms) => sleep(Math.max(0, t0 + ms - Date.now()));
    await at(timing.faultMs);
    log(`${scenario} with ${name}: fault on ${scenario === 'kubelet-etcd' ? 'etcd' : c.apiservers[victim].name}`);
    await fault(victim);
    await at(timing.healMs);
    log(`${scenario} with ${name}: heal`);
    // Restarting an apiserver takes seconds and must not delay the end of the run.
    healing = Promise.resolve(heal(victim));
    await at(timing.durationMs);
    const summary = await sim.summary();
    await loop.stop();
    const figures = {
      victim: scenario === 'kubelet-etcd' ? 'etcd' : c.apiservers[victim].name,
      lease_gap_ms_max: summary.lease_gap_ms_max,
      renew_ok: summary.renew_ok,
      renew_failed: summary.renew_failed,
      watch_gap_ms_max: summary.watch_gap_ms_max,
      watch_starts: summary.watch_starts,
      requests: loop.calls,
      requests_failed: loop.failures.length,
      ...proxy.figures(),
      run_ms: summary.run_ms,
    };
    writeFileSync(path.join(detailDir, `${tag}-kubectl-failures.txt`), loop.failures.join('\n') + (loop.failures.length ? '\n' : ''));
    return figures;
  } finally {
    await loop?.stop();
    if (sim) {
      await sim.stop('SIGTERM');
      writeFileSync(path.join(detailDir, `${tag}-kubelet-sim.jsonl`), `${sim.records.map((r) => JSON.stringify(r)).join('\n')}\n`);
    }
    await proxy.stop();
    await healing.catch((err) => log(`${scenario} with ${name}: heal failed: ${err.message ?? err}`));
  }
}

/**
 * Runs every scenario for every proxy (order rotating between scenarios, so no proxy always
 * follows the same restart), `reps` times, on one cluster. `emit(scenario, proxy, rep, figures)`
 * writes each result line. Returns when done; the cluster is stopped whatever happens.
 */
export async function runRealCluster(o) {
  const { helpers, binaries, scenarios, proxies, reps, log, emit, onCluster } = o;
  log('starting etcd and three kube-apiservers (anonymous auth, lease reconciler, --shutdown-delay-duration=0s)');
  const began = Date.now();
  const c = await helpers.cluster.startRealCluster(binaries, { anonymousAuth: true, reconciler: 'lease', shutdownDelay: '0s' });
  onCluster(c);
  log(`control plane ready in ${Math.round((Date.now() - began) / 1000)} s: ${c.apiservers.map((a) => a.address).join(' ')}, node namespace ${c.nodeNs}`);
  const env = { ...o, c, node: helpers.node, state: { partitioned: new Set() } };
  try {
    let turn = 0;
    for (let rep = 1; rep <= reps; rep++) {
      for (const scenario of scenarios) {
        const order = proxies.map((_, k) => proxies[(k + turn) % proxies.length]);
        turn++;
        for (const name of order) {
          log(`rep ${rep}/${reps}: ${scenario} with ${name}`);
          let figures;
          try {
            figures = await runOne(env, scenario, name, `r${rep}-${scenario}-${name}`);
          } catch (err) {
            log(`${scenario} with ${name} failed: ${err.stack ?? err}`);
            figures = { error: String(err.message ?? err).split('\n')[0] };
          }
          emit(scenario, name, rep, figures);
        }
      }
    }
  } finally {
    await c.stop();
  }
}
