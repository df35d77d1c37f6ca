import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * Two network namespaces made by the test and joined by a veth pair: a "node", where
 * kube-local-lb and its clients run, and a "host" behind the link under test, where an apiserver
 * runs. Static neighbour entries both ways, so that setting the link down drops packets silently
 * (no RST, no ICMP), as a pulled cable would. The veth is created inside the node namespace with
 * its peer moved straight into the host namespace: no interface of the root namespace is made,
 * and none gets an address. Names carry the test process's pid; `remove()` deletes both
 * namespaces (and with them the pair), and leftovers of a killed run are removed by the next.
 * Needs root.
 */
export interface NetnsHost {
  /** The host namespace. */
  name: string;
  /** The host side's IPv4 address (as the node reaches it). */
  ip: string;
  /** The host side's IPv6 address (fd00::/8, unique local). */
  ip6: string;
  /** The node namespace, where the proxy and its clients run. */
  node: string;
  /** The host's link down (its end of the pair): packets vanish both ways. */
  linkDown(): void;
  linkUp(): void;
  /** Sets the root qdisc of both ends of the link (`tc qdisc replace ... root <args>`). */
  qdisc(args: string[]): void;
  /** Back to the default qdisc on both ends. */
  clearQdisc(): void;
  /** Runs a command inside the host namespace. */
  spawn(cmd: string, args: string[]): ChildProcess;
  /** Runs a command inside the node namespace. */
  nodeSpawn(cmd: string, args: readonly string[]): ChildProcess;
  remove(): void;
}

/** Namespace names are `kns<pid><role><index>`: the pid tells a live run from a leftover. */
const NS_PREFIX = 'kns';

/** Why network namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'the ip command (iproute2) is not available';
  }
  return undefined;
}

export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills what runs in namespace `ns`, then deletes it; harmless when it is gone. */
export function killNamespace(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

/**
 * Removes the namespaces (and their processes) that `pattern` matches in `ip netns list` and
 * whose test process is gone: group 1 is the namespace, group 2 the pid of the run that made it.
 */
export function removeNamespacesOfGoneRuns(pattern: RegExp): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const m = pattern.exec(line);
    if (m && Number(m[2]) !== process.pid && !alive(Number(m[2]))) killNamespace(m[1]!);
  }
}

/** Removes the namespaces of earlier runs of these helpers whose test process is gone. */
export function removeNetnsLeftovers(): void {
  removeNamespacesOfGoneRuns(new RegExp(`^(${NS_PREFIX}(\\d+)[nh]\\d+)\\b`));
}

/** A node and a host namespace joined by a link; `index` tells apart several of one test process. */
export function makeNetnsHost(index = 0): NetnsHost {
  removeNetnsLeftovers();
  const node = `${NS_PREFIX}${process.pid}n${index}`;
  const name = `${NS_PREFIX}${process.pid}h${index}`;
  // Both ends live in namespaces of this test, so the addresses cannot meet anyone else's.
  const nodeIp = '10.233.0.1';
  const hostIp = '10.233.0.2';
  const node6 = 'fd00:6b6c:62::1';
  const host6 = 'fd00:6b6c:62::2';
  const nodeIf = 'veth0';
  const hostIf = 'eth0';
  killNamespace(node);
  killNamespace(name);
  const remove = (): void => {
    killNamespace(name);
    killNamespace(node);
  };
  try {
    ip('netns', 'add', node);
    ip('netns', 'add', name);
    ip('-n', node, 'link', 'add', nodeIf, 'type', 'veth', 'peer', 'name', hostIf, 'netns', name);
    ip('-n', node, 'addr', 'add', `${nodeIp}/30`, 'dev', nodeIf);
    // nodad: usable at once, instead of "tentative" for the second duplicate address detection takes.
    ip('-n', node, '-6', 'addr', 'add', `${node6}/64`, 'dev', nodeIf, 'nodad');
    ip('-n', name, 'addr', 'add', `${hostIp}/30`, 'dev', hostIf);
    ip('-n', name, '-6', 'addr', 'add', `${host6}/64`, 'dev', hostIf, 'nodad');
    for (const [ns, dev] of [[node, nodeIf], [name, hostIf], [node, 'lo'], [name, 'lo']] as const) ip('-n', ns, 'link', 'set', dev, 'up');
    const mac = (ns: string, dev: string) =>
      (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', dev], { encoding: 'utf8' })) as { address: string }[])[0]?.address ?? '';
    // Static neighbours both ways: with the link down, packets vanish instead of failing ARP/ND.
    ip('-n', node, 'neigh', 'replace', hostIp, 'lladdr', mac(name, hostIf), 'dev', nodeIf, 'nud', 'permanent');
    ip('-n', node, 'neigh', 'replace', host6, 'lladdr', mac(name, hostIf), 'dev', nodeIf, 'nud', 'permanent');
    ip('-n', name, 'neigh', 'replace', nodeIp, 'lladdr', mac(node, nodeIf), 'dev', hostIf, 'nud', 'permanent');
    ip('-n', name, 'neigh', 'replace', node6, 'lladdr', mac(node, nodeIf), 'dev', hostIf, 'nud', 'permanent');
  } catch (err) {
    remove();
    throw err;
  }
  const tc = (ns: string, dev: string, args: string[]) =>
    execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', ...args.slice(0, 1), 'dev', dev, 'root', ...args.slice(1)], { stdio: ['ignore', 'ignore', 'pipe'] });
  return {
    name,
    ip: hostIp,
    ip6: host6,
    node,
    linkDown: () => ip('-n', name, 'link', 'set', hostIf, 'down'),
    linkUp: () => ip('-n', name, 'link', 'set', hostIf, 'up'),
    qdisc(args) {
      tc(node, nodeIf, ['replace', ...args]);
      tc(name, hostIf, ['replace', ...args]);
    },
    clearQdisc() {
      for (const [ns, dev] of [[node, nodeIf], [name, hostIf]] as const) {
        try {
          tc(ns, dev, ['del']);
        } catch {
          // Already the default qdisc.
        }
      }
    },
    spawn: (cmd, args) => spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }),
    nodeSpawn: (cmd, args) => spawn('ip', ['netns', 'exec', node, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }),
    remove,
  };
}

/**
 * Starts the fake apiserver's process entry through `spawnIn` (a namespace's spawn), listening
 * on `host`; resolves with its port once it listens. `startup`: its start-up phase (`real`: 403,
 * then /readyz 500, then ready; `instant`: ready at once).
 */
export async function fakeApiserverIn(spawnIn: (cmd: string, args: string[]) => ChildProcess, host: string,
  tls: { certPem: string; keyPem: string; clientCaPem: string }, startup: 'real' | 'instant', name = 'in-netns'):
  Promise<{ port: number; address: string; name: string; child: ChildProcess }> {
  const cli = fileURLToPath(new URL('../fake-apiserver/cli.js', import.meta.url));
  const child = spawnIn(process.execPath, [cli, '--name', name, '--host', host, '--port', '0', '--startup', startup,
    `--cert=${tls.certPem}`, `--key=${tls.keyPem}`, `--client-ca=${tls.clientCaPem}`]);
  const stderr: string[] = [];
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout ?? process.stdin });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`fake apiserver exited (${code}): ${stderr.join('')}`)));
  });
  const port = (JSON.parse(line) as { port: number }).port;
  return { port, address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, name, child };
}

/** Why `tc ... netem` cannot be used here (no root, no tc, or a kernel without sch_netem), or undefined. */
export function netemUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces and tc';
  // Probed on a veth pair inside a namespace of its own, removed at once.
  const ns = `${NS_PREFIX}${process.pid}n99`;
  killNamespace(ns);
  try {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1');
  } catch {
    killNamespace(ns);
    return 'cannot make a veth pair in a network namespace (iproute2 missing?)';
  }
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'veth0', 'root', 'netem', 'delay', '1ms'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (err) {
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? String(err);
    return `tc netem is not available (kernel module sch_netem): ${why}`;
  } finally {
    killNamespace(ns);
  }
}
