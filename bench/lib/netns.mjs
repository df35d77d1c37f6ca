// The network namespaces of failover-netns. No interface of the root namespace is made or given
// an address: when failover-netns is to run (as root), the whole bench re-runs itself inside a
// "node" namespace of its own (`klb-bench-<pid>n`, loopback only), where the proxies, the
// clients and the other backends run on 127.0.0.1 as they would outside. Backend 1 moves to a
// "host" namespace (`klb-bench-<pid>h`) joined to the node by a veth pair, 10.232.0.1 (node)
// and 10.232.0.2 (host), /30, with static neighbour entries so that no ARP is involved:
// link down on the host side and nothing arrives, nothing answers, not even for established
// connections. Both namespaces are deleted at the end; leftovers of a killed run (its pid gone)
// are deleted by the next run.
import { spawn, spawnSync } from 'node:child_process';
import { runCommand } from './procs.mjs';

export const HOST_IP = '10.232.0.1';
export const NS_IP = '10.232.0.2';
const PREFIX = '10.232.0.';
/** Set in the bench re-run inside the node namespace: the outer run's pid, which names the namespaces. */
const ID_ENV = 'KLB_BENCH_NETNS_ID';

async function ip(...args) {
  const r = await runCommand('ip', args, { timeoutMs: 10000 });
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills what runs in namespace `ns` and deletes it; harmless when it is gone. */
function killNamespace(ns) {
  const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5000 }).stdout ?? '').split('\n').filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
}

/** Deletes the namespaces of earlier bench runs whose process is gone. */
function removeLeftovers() {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 }).stdout ?? '';
  for (const line of list.split('\n')) {
    const m = /^(klb-bench-(\d+)[nh]?)\b/.exec(line);
    if (m && !alive(Number(m[2]))) killNamespace(m[1]);
  }
}

/** True inside the node namespace a bench run made for itself. */
export function inNodeNamespace() {
  const id = process.env[ID_ENV];
  if (!id) return false;
  const here = spawnSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8', timeout: 5000 }).stdout ?? '';
  return here.split('\n').includes(`klb-bench-${id}n`);
}

/**
 * Runs this bench again, with the same arguments, inside a node namespace made for it; resolves
 * with its exit code once it is over and both namespaces are deleted. Ctrl-C reaches the inner
 * run through the terminal; SIGTERM and SIGHUP are passed on to it.
 */
export async function rerunInNodeNamespace() {
  removeLeftovers();
  const node = `klb-bench-${process.pid}n`;
  const host = `klb-bench-${process.pid}h`;
  try {
    await ip('netns', 'add', node);
    await ip('-n', node, 'link', 'set', 'lo', 'up');
  } catch (err) {
    killNamespace(node);
    throw err;
  }
  const child = spawn('ip', ['netns', 'exec', node, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, [ID_ENV]: String(process.pid) } });
  const pass = (sig) => child.kill(sig);
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', pass);
  process.on('SIGHUP', pass);
  const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 130 : 1))));
  killNamespace(host);
  killNamespace(node);
  return code;
}

export class Netns {
  constructor() {
    this.name = `klb-bench-${process.env[ID_ENV] ?? process.pid}h`;
    // Interfaces live in the node and host namespaces only: their names cannot meet anyone else's.
    this.hostIf = 'veth0';
    this.nsIf = 'eth0';
    this.created = false;
  }

  /** Throws, with a sentence, when 10.232.0.0/30 is already in use in this (node) namespace. */
  static async checkFree() {
    const addrs = await ip('-4', '-o', 'addr', 'show');
    if (addrs.includes(PREFIX)) throw new Error(`10.232.0.0/30 is already in use here (another bench run?): ${addrs.split('\n').find((l) => l.includes(PREFIX))?.trim()}`);
  }

  async create() {
    if (!inNodeNamespace()) throw new Error('failover-netns runs only inside the node namespace the bench makes for itself');
    await Netns.checkFree();
    killNamespace(this.name);
    await ip('netns', 'add', this.name);
    this.created = true;
    // Made in this process's namespace (the node's), its peer moved straight into the host's.
    await ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf, 'netns', this.name);
    await ip('addr', 'add', `${HOST_IP}/30`, 'dev', this.hostIf);
    await ip('link', 'set', this.hostIf, 'up');
    await ip('-n', this.name, 'addr', 'add', `${NS_IP}/30`, 'dev', this.nsIf);
    await ip('-n', this.name, 'link', 'set', this.nsIf, 'up');
    await ip('-n', this.name, 'link', 'set', 'lo', 'up');
    const hostMac = (await ip('-br', 'link', 'show', this.hostIf)).trim().split(/\s+/)[2];
    const nsMac = (await ip('-n', this.name, '-br', 'link', 'show', this.nsIf)).trim().split(/\s+/)[2];
    await ip('neigh', 'replace', NS_IP, 'dev', this.hostIf, 'lladdr', nsMac, 'nud', 'permanent');
    await ip('-n', this.name, 'neigh', 'replace', HOST_IP, 'dev', this.nsIf, 'lladdr', hostMac, 'nud', 'permanent');
  }

  linkDown() {
    return ip('-n', this.name, 'link', 'set', this.nsIf, 'down');
  }

  linkUp() {
    return ip('-n', this.name, 'link', 'set', this.nsIf, 'up');
  }

  /** Deletes the host namespace (and with it the veth pair); harmless when already gone. */
  async remove() {
    if (!this.created) return;
    this.created = false;
    await runCommand('ip', ['netns', 'del', this.name], { timeoutMs: 10000 });
  }

  /** The same as remove(), synchronously, for an interrupted run. */
  removeSync(spawnSyncFn) {
    if (!this.created) return;
    this.created = false;
    spawnSyncFn('ip', ['netns', 'del', this.name], { timeout: 5000 });
  }
}
