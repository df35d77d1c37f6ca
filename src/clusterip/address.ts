import { isIPv6 } from 'node:net';
import { CommandError, run } from './command.js';

/**
 * The addresses the interception holds, as `ip` shows and changes them: each a host route
 * (/32, /128) on one interface, so that the kernel delivers packets to it locally.
 */

interface IpAddrInfo {
  local?: string;
  prefixlen?: number;
}
interface IpLink {
  ifname?: string;
  addr_info?: IpAddrInfo[];
  link_type?: string;
  linkinfo?: { info_kind?: string };
}

/** `host` with the prefix of a single address, as `ip addr` takes it. */
export function hostPrefix(host: string): string {
  return `${host}/${isIPv6(host) ? 128 : 32}`;
}

/** Every interface with its addresses; `[]` when `ip` answers nothing parsable. */
export async function listInterfaces(): Promise<IpLink[]> {
  const out = await run('ip', ['-j', '-d', 'addr', 'show']);
  try {
    const parsed: unknown = JSON.parse(out);
    return Array.isArray(parsed) ? (parsed as IpLink[]) : [];
  } catch {
    return [];
  }
}

/** The interface holding `host`, if any. */
export async function interfaceHolding(host: string): Promise<string | undefined> {
  const links = await listInterfaces();
  return links.find((link) => link.addr_info?.some((a) => a.local === host))?.ifname;
}

export async function interfaceExists(name: string): Promise<boolean> {
  const links = await listInterfaces();
  return links.some((link) => link.ifname === name);
}

/** Whether `name` is a dummy device (the kind kube-local-lb creates). */
export async function isDummy(name: string): Promise<boolean> {
  const links = await listInterfaces();
  return links.some((link) => link.ifname === name && link.linkinfo?.info_kind === 'dummy');
}

export async function hasAddress(iface: string, host: string): Promise<boolean> {
  const links = await listInterfaces();
  return links.some((link) => link.ifname === iface && (link.addr_info ?? []).some((a) => a.local === host));
}

/** Creates dummy device `name` and sets it up. */
export async function createDummy(name: string): Promise<void> {
  try {
    await run('ip', ['link', 'add', name, 'type', 'dummy']);
  } catch (err) {
    if (err instanceof CommandError && /Unknown device type|not supported/i.test(err.stderr)) {
      throw new CommandError(err.command, `this kernel has no dummy devices: use an existing interface (e.g. --cluster-ip-interface lo)`, false);
    }
    throw err;
  }
  await run('ip', ['link', 'set', name, 'up']);
}

export async function deleteInterface(name: string): Promise<void> {
  await run('ip', ['link', 'del', name]);
}

/**
 * Adds `host` to `iface`, `nodad` for IPv6 (duplicate address detection would hold it back for a
 * second). An address already there is fine.
 */
export async function addAddress(iface: string, host: string): Promise<void> {
  if (await hasAddress(iface, host)) return;
  const extra = isIPv6(host) ? ['nodad'] : [];
  await run('ip', ['addr', 'add', hostPrefix(host), 'dev', iface, ...extra]);
}

/** Removes `host` from `iface`; an address already gone is fine. */
export async function removeAddress(iface: string, host: string): Promise<void> {
  if (!(await hasAddress(iface, host))) return;
  await run('ip', ['addr', 'del', hostPrefix(host), 'dev', iface]);
}
