import { isIPv4, isIPv6 } from 'node:net';
import { formatHostPort, parseHostPort } from './address.js';
import { ConfigError } from './config-error.js';
import type { ClusterIpTarget, HostPort } from './schema.js';
import { textKind, type ValueKind } from './values.js';

/**
 * The settings of the `kubernetes` ClusterIP interception: which address (`--cluster-ip`), on
 * which interface, and the optional link-local address.
 */

/** The port of Service `default/kubernetes` in every cluster that has not changed it. */
export const CLUSTER_IP_PORT = 443;

const TARGET_EXAMPLE = 'expected IP, IP:PORT, [IPv6]:PORT, auto or "" (e.g. 10.96.0.1, 10.96.0.1:443, auto)';

/** `--cluster-ip`: "" (none), `auto`, or an IP with an optional port (443 when left out). */
export function clusterIpTarget(): ValueKind<ClusterIpTarget> {
  const fromText = (text: string, where: string): ClusterIpTarget => {
    const trimmed = text.trim();
    if (trimmed === '' || trimmed === 'none') return { kind: 'none' };
    if (trimmed === 'auto') return { kind: 'auto' };
    if (isIPv4(trimmed) || isIPv6(trimmed)) return { kind: 'address', host: trimmed, port: CLUSTER_IP_PORT };
    if (trimmed.startsWith('[') && trimmed.endsWith(']') && isIPv6(trimmed.slice(1, -1))) {
      return { kind: 'address', host: trimmed.slice(1, -1), port: CLUSTER_IP_PORT };
    }
    if (!/:\d*$/.test(trimmed) || (!trimmed.startsWith('[') && trimmed.split(':').length > 2)) {
      throw new ConfigError(where, text, `is not a ClusterIP (${TARGET_EXAMPLE})`);
    }
    const address = parseHostPort(trimmed, where, { host: 'ip', allowPortZero: false });
    return { kind: 'address', ...address };
  };
  return {
    placeholder: 'IP[:PORT]|auto',
    fromText,
    fromFile(value, where) {
      if (value === null) return { kind: 'none' };
      if (typeof value !== 'string') throw new ConfigError(where, value, `is not a ClusterIP (${TARGET_EXAMPLE})`);
      return fromText(value, where);
    },
    toFile: showTarget,
    show: (target) => (target.kind === 'none' ? '""' : showTarget(target)),
  };
}

function showTarget(target: ClusterIpTarget): string {
  switch (target.kind) {
    case 'none':
      return '';
    case 'auto':
      return 'auto';
    case 'address':
      return formatHostPort(target);
  }
}

/**
 * A Linux interface name: 1-15 bytes, no slash, colon or white space (what `ip link` accepts;
 * the colon would be an address label).
 */
export function interfaceName(): ValueKind<string> {
  return textKind('NAME', 'is not an interface name (1-15 characters, no "/", ":" or spaces; e.g. kube-local-lb0, lo)', (text) => {
    const name = text.trim();
    return /^[A-Za-z0-9_.@-]{1,15}$/.test(name) && name !== '.' && name !== '..' ? name : undefined;
  });
}

/** `--cluster-ip-link-local`: a link-local IP:PORT (169.254.0.0/16, [fe80::/10]), or "" for none. */
export function linkLocalAddress(): ValueKind<HostPort | null> {
  const expected = 'is not a link-local IP:PORT (169.254.0.0/16 or [fe80::/10], e.g. 169.254.20.11:6443) or ""';
  const fromText = (text: string, where: string): HostPort | null => {
    const trimmed = text.trim();
    if (trimmed === '') return null;
    const address = parseHostPort(trimmed, where, { host: 'ip', allowPortZero: false });
    if (!isLinkLocal(address.host)) throw new ConfigError(where, text, expected);
    return address;
  };
  return {
    placeholder: 'IP:PORT',
    fromText,
    fromFile(value, where) {
      if (value === null) return null;
      if (typeof value !== 'string') throw new ConfigError(where, value, expected);
      return fromText(value, where);
    },
    toFile: (address) => (address === null ? '' : formatHostPort(address)),
    show: (address) => (address === null ? '""' : formatHostPort(address)),
  };
}

export function isLinkLocal(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('169.254.');
  return isIPv6(host) && /^fe[89ab][0-9a-f]:/i.test(host);
}
