import { readFileSync } from 'node:fs';

/**
 * Whether this process may do what the interception needs, read from its own capability set
 * (/proc/self/status), before anything is changed: CAP_NET_ADMIN for the address and the
 * nftables table, CAP_NET_BIND_SERVICE for a port below the unprivileged start (1024).
 */

const CAP_NET_BIND_SERVICE = 10;
const CAP_NET_ADMIN = 12;

/** The effective capability mask, or undefined where /proc cannot tell (not Linux). */
export function effectiveCapabilities(status = readFileSync('/proc/self/status', 'utf8')): bigint | undefined {
  const hex = /^CapEff:\s*([0-9a-f]+)$/im.exec(status)?.[1];
  return hex === undefined ? undefined : BigInt(`0x${hex}`);
}

function unprivilegedPortStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  } catch {
    return 1024;
  }
}

/**
 * What is missing to hold and serve addresses on `ports`, as one sentence, or undefined when
 * nothing is.
 */
export function missingPrivilege(ports: readonly number[], caps = effectiveCapabilities()): string | undefined {
  if (caps === undefined) return 'needs Linux (capabilities are read from /proc/self/status)';
  const has = (bit: number) => (caps & (1n << BigInt(bit))) !== 0n;
  const missing: string[] = [];
  if (!has(CAP_NET_ADMIN)) missing.push('CAP_NET_ADMIN');
  const low = ports.filter((port) => port < unprivilegedPortStart());
  if (low.length > 0 && !has(CAP_NET_BIND_SERVICE)) missing.push(`CAP_NET_BIND_SERVICE (port ${low.join(', ')})`);
  if (missing.length === 0) return undefined;
  return `needs root or ${missing.join(' and ')}, which this process lacks`;
}
