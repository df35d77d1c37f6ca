import { execFileSync, spawn } from 'node:child_process';
import type { NetnsHost } from './netns.js';

/**
 * A test host in a network namespace of its own, like `makeNetnsHost`, with an IPv6 address
 * beside the IPv4 one and the veth's queueing discipline at hand, to delay, shape or drop its
 * packets (`tc`). Made and removed by the test; needs root. `index` tells apart two hosts of
 * one test process.
 */
export interface LinkHost extends NetnsHost {
  /** The namespace side's IPv6 address (fd00::/8, unique local). */
  ip6: string;
  /** Sets the root qdisc of both ends of the link (`tc qdisc replace ... root <args>`). */
  qdisc(args: string[]): void;
  /** Back to the default qdisc on both ends. */
  clearQdisc(): void;
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeLinkHost(index: number): LinkHost {
  // Names and a /30 per test process and index, apart from makeNetnsHost's (10.233/16).
  const id = (process.pid % 4000) * 4 + index;
  const name = `klb-l${id}`;
  const hostIf = `klblh${id}`;
  const nsIf = `klbln${id}`;
  const third = Math.floor(id / 64) % 250;
  const fourth = (id % 64) * 4;
  const hostIp = `10.234.${third}.${fourth + 1}`;
  const nsIp = `10.234.${third}.${fourth + 2}`;
  const prefix6 = `fd00:6b6c:62:${id.toString(16)}`;
  try {
    run('ip', ['netns', 'del', name]);
  } catch {
    // Not left over from an earlier run: nothing to remove.
  }
  run('ip', ['netns', 'add', name]);
  run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
  run('ip', ['link', 'set', nsIf, 'netns', name]);
  run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
  // nodad: usable at once, instead of "tentative" for the second duplicate address detection takes.
  run('ip', ['-6', 'addr', 'add', `${prefix6}::1/64`, 'dev', hostIf, 'nodad']);
  run('ip', ['link', 'set', hostIf, 'up']);
  run('ip', ['-n', name, 'addr', 'add', `${nsIp}/30`, 'dev', nsIf]);
  run('ip', ['-n', name, '-6', 'addr', 'add', `${prefix6}::2/64`, 'dev', nsIf, 'nodad']);
  run('ip', ['-n', name, 'link', 'set', nsIf, 'up']);
  run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    ip: nsIp,
    ip6: `${prefix6}::2`,
    linkDown: () => run('ip', ['-n', name, 'link', 'set', nsIf, 'down']),
    linkUp: () => run('ip', ['-n', name, 'link', 'set', nsIf, 'up']),
    spawn: (cmd, args) => spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }),
    qdisc(args) {
      run('tc', ['qdisc', 'replace', 'dev', hostIf, 'root', ...args]);
      run('ip', ['netns', 'exec', name, 'tc', 'qdisc', 'replace', 'dev', nsIf, 'root', ...args]);
    },
    clearQdisc() {
      for (const [cmd, ...args] of [['tc', 'qdisc', 'del', 'dev', hostIf, 'root'], ['ip', 'netns', 'exec', name, 'tc', 'qdisc', 'del', 'dev', nsIf, 'root']]) {
        try {
          run(cmd ?? 'tc', args);
        } catch {
          // Already the default qdisc.
        }
      }
    },
    remove() {
      try {
        run('ip', ['netns', 'del', name]);
      } catch {
        // Already gone.
      }
      try {
        run('ip', ['link', 'del', hostIf]);
      } catch {
        // Deleting the namespace removed the pair already.
      }
    },
  };
}

/** Why `tc ... netem` cannot be used here (no root, no tc, or a kernel without sch_netem), or undefined. */
export function netemUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces and tc';
  const a = `klbq${process.pid % 100_000}`;
  const b = `klbr${process.pid % 100_000}`;
  try {
    run('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  } catch {
    return 'cannot make a veth pair (iproute2 missing?)';
  }
  try {
    run('tc', ['qdisc', 'add', 'dev', a, 'root', 'netem', 'delay', '1ms']);
    return undefined;
  } catch (err) {
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? String(err);
    return `tc netem is not available (kernel module sch_netem): ${why}`;
  } finally {
    try {
      run('ip', ['link', 'del', a]);
    } catch {
      // Gone with its peer already.
    }
  }
}
