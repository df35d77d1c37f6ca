import { isIP, isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from './config-error.js';
import type { HostPort } from './schema.js';

/** Which hosts an address may name. Listeners bind IP literals; backends may be DNS names. */
export type HostKind = 'ip' | 'ip-or-name';

export interface AddressRules {
  host: HostKind;
  /** Port 0 asks the kernel for a free port: meaningful for a listener, never for a backend. */
  allowPortZero: boolean;
}

const EXAMPLE = { ip: 'e.g. 127.0.0.1:6444, [::1]:6444', 'ip-or-name': 'e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443' };

/**
 * Reads `HOST:PORT`: an IPv4 address, an IPv6 address in brackets, or (for backends) a DNS name,
 * then a port. `host` comes back bare (no brackets). Throws a ConfigError naming `where`.
 */
export function parseHostPort(text: string, where: string, rules: AddressRules): HostPort {
  const example = EXAMPLE[rules.host];
  let host: string;
  let portText: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new ConfigError(where, text, `is a URL, not HOST:PORT (${example})`);
  }
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new ConfigError(where, text, `has no closing bracket (${example})`);
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest === '') throw new ConfigError(where, text, `has no port (HOST:PORT, ${example})`);
    if (!rest.startsWith(':')) throw new ConfigError(where, text, `is not HOST:PORT (${example})`);
    portText = rest.slice(1);
    if (!isIPv6(host)) throw new ConfigError(where, text, `has an invalid IPv6 address in brackets (${example})`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0 && /^\d+$/.test(text)) throw new ConfigError(where, text, `is a port alone: it has no host (HOST:PORT, ${example})`);
    if (colon < 0) throw new ConfigError(where, text, `has no port (HOST:PORT, ${example})`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      if (isIPv6(host) || isIPv6(text)) throw new ConfigError(where, text, 'needs brackets around the IPv6 address, e.g. [::1]:6443');
      throw new ConfigError(where, text, `is not HOST:PORT (${example})`);
    }
    if (host === '') throw new ConfigError(where, text, `has no host (HOST:PORT, ${example})`);
    if (rules.host === 'ip' && !isIPv4(host)) {
      throw new ConfigError(where, text, `is not an IP address and port (${example})`);
    }
    if (rules.host === 'ip-or-name' && !isIPv4(host) && !isDnsName(host)) {
      throw new ConfigError(where, text, 'has an invalid host (expected an IPv4 address, [IPv6] or DNS name)');
    }
  }
  const port = parsePort(portText);
  const lowest = rules.allowPortZero ? 0 : 1;
  if (port === undefined || port < lowest) {
    throw new ConfigError(where, text, `has an invalid port (expected ${lowest}-65535)`);
  }
  return { host, port };
}

/** `host:port` with brackets around an IPv6 host: the form operators write and logs show. */
export function formatHostPort({ host, port }: HostPort): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A key under which two spellings of one address compare equal: DNS names are case-insensitive
 * and `[0:0::1]` is `[::1]`.
 */
export function addressKey({ host, port }: HostPort): string {
  return `${canonicalHost(host)}:${port}`;
}

/** One spelling per host: DNS names in lower case without the trailing dot, IPv6 in its shortest form. */
export function canonicalHost(host: string): string {
  // The WHATWG URL parser writes IPv6 in its shortest form; zone ids (`%eth0`) it cannot read.
  if (isIPv6(host) && !host.includes('%')) return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  return host.toLowerCase().replace(/\.$/, '');
}

/**
 * A DNS name per RFC 1123: dot-separated labels of letters, digits and inner hyphens, 1-63
 * characters each, 253 in all, one trailing dot allowed. The last label may not be all digits,
 * so that a mistyped IPv4 address (`10.0.0.256`) is not taken for a name.
 */
export function isDnsName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  const last = labels[labels.length - 1] ?? '';
  if (/^\d+$/.test(last)) return false;
  return labels.every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

/** True for an IP literal or a DNS name: what a TLS server name may be. */
export function isHostName(text: string): boolean {
  return isIP(text) !== 0 || isDnsName(text);
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}
