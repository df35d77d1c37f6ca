import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * A test host in a network namespace of its own, reached over a veth pair with static ARP, so
 * that setting its link down drops packets silently (no RST, no ICMP), as a pulled cable would.
 * Made and removed by the test; needs root.
 */
export interface NetnsHost {
  name: string;
  /** The namespace side's address. */
  ip: string;
  linkDown(): void;
  linkUp(): void;
  /** Runs a command inside the namespace. */
  spawn(cmd: string, args: string[]): ChildProcess;
  remove(): void;
}

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

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeNetnsHost(): NetnsHost {
  // A /30 of our own per test process, in a range no other test host here uses.
  const id = process.pid % 16_000;
  const name = `klb-t${id}`;
  const hostIf = `klbh${id}`;
  const nsIf = `klbn${id}`;
  const third = Math.floor(id / 64) % 250;
  const fourth = (id % 64) * 4;
  const hostIp = `10.233.${third}.${fourth + 1}`;
  const nsIp = `10.233.${third}.${fourth + 2}`;
  try {
    ip('netns', 'del', name);
  } catch {
    // Not left over from an earlier run: nothing to remove.
  }
  ip('netns', 'add', name);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
  ip('link', 'set', nsIf, 'netns', name);
  ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('-n', name, 'addr', 'add', `${nsIp}/30`, 'dev', nsIf);
  ip('-n', name, 'link', 'set', nsIf, 'up');
  ip('-n', name, 'link', 'set', 'lo', 'up');
  const mac = (netns: string | undefined, dev: string) =>
    (JSON.parse(execFileSync('ip', [...(netns ? ['-n', netns] : []), '-j', 'link', 'show', dev], { encoding: 'utf8' })) as { address: string }[])[0]?.address ?? '';
  // Static neighbours both ways: with the link down, packets vanish instead of failing ARP.
  ip('neigh', 'replace', nsIp, 'lladdr', mac(name, nsIf), 'dev', hostIf, 'nud', 'permanent');
  ip('-n', name, 'neigh', 'replace', hostIp, 'lladdr', mac(undefined, hostIf), 'dev', nsIf, 'nud', 'permanent');
  return {
    name,
    ip: nsIp,
    linkDown: () => ip('-n', name, 'link', 'set', nsIf, 'down'),
    linkUp: () => ip('-n', name, 'link', 'set', nsIf, 'up'),
    spawn: (cmd, args) => spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }),
    remove() {
      try {
        ip('netns', 'del', name);
      } catch {
        // Already gone.
      }
      try {
        ip('link', 'del', hostIf);
      } catch {
        // Deleting the namespace removed the pair already.
      }
    },
  };
}

/**
 * Starts the fake apiserver's process entry in `host`; resolves with its port once it listens.
 * `startup`: its start-up phase (`real`: 403, then /readyz 500, then ready; `instant`: ready at once).
 */
export async function fakeApiserverIn(host: NetnsHost, tls: { certPem: string; keyPem: string; clientCaPem: string }, startup: 'real' | 'instant'):
  Promise<{ port: number; child: ChildProcess }> {
  const cli = fileURLToPath(new URL('../fake-apiserver/cli.js', import.meta.url));
  const child = host.spawn(process.execPath, [cli, '--name', 'in-netns', '--host', host.ip, '--port', '0', '--startup', startup,
    `--cert=${tls.certPem}`, `--key=${tls.keyPem}`, `--client-ca=${tls.clientCaPem}`]);
  const stderr: string[] = [];
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout ?? process.stdin });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`fake apiserver exited (${code}): ${stderr.join('')}`)));
  });
  return { port: (JSON.parse(line) as { port: number }).port, child };
}
