// A network namespace joined to the host by a veth pair, for a backend whose packets can be
// dropped silently: link down on the namespace side and nothing arrives, nothing answers, not
// even for established connections. Addresses are 10.232.0.1 (host) and 10.232.0.2 (namespace),
// /30, with static neighbour entries so that no ARP is involved. Nothing else is touched.
import { runCommand } from './procs.mjs';

export const HOST_IP = '10.232.0.1';
export const NS_IP = '10.232.0.2';
const PREFIX = '10.232.0.';

async function ip(...args) {
  const r = await runCommand('ip', args, { timeoutMs: 10000 });
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

export class Netns {
  constructor() {
    const id = String(process.pid);
    this.name = `klb-bench-${id}`;
    this.hostIf = `klbh${id}`.slice(0, 15);
    this.nsIf = `klbn${id}`.slice(0, 15);
    this.created = false;
  }

  /** Throws, with a sentence, when 10.232.0.0/30 is already in use on this host. */
  static async checkFree() {
    const addrs = await ip('-4', '-o', 'addr', 'show');
    if (addrs.includes(PREFIX)) throw new Error(`10.232.0.0/30 is already in use on this host (another bench run?): ${addrs.split('\n').find((l) => l.includes(PREFIX))?.trim()}`);
  }

  async create() {
    await Netns.checkFree();
    await ip('netns', 'add', this.name);
    this.created = true;
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

  /** Deletes the veth pair (both ends) and the namespace; harmless when already gone. */
  async remove() {
    if (!this.created) return;
    this.created = false;
    await runCommand('ip', ['link', 'del', this.hostIf], { timeoutMs: 10000 });
    await runCommand('ip', ['netns', 'del', this.name], { timeoutMs: 10000 });
  }

  /** The same as remove(), synchronously, for an interrupted run. */
  removeSync(spawnSync) {
    if (!this.created) return;
    this.created = false;
    spawnSync('ip', ['link', 'del', this.hostIf], { timeout: 5000 });
    spawnSync('ip', ['netns', 'del', this.name], { timeout: 5000 });
  }
}
