import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import type { HostPort } from '../config/schema.js';
import type { Finding } from './finding.js';

/** A listening socket's address in /proc/net/tcp (little-endian hex IPv4, hex port). */
function procAddress(host: string, port: number): string | undefined {
  if (!isIPv4(host)) return undefined;
  const hex = host.split('.').map((octet) => Number(octet).toString(16).padStart(2, '0').toUpperCase()).reverse().join('');
  return `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Inodes of the sockets listening where a client dialing host:port lands (that address, or any). */
function listeningInodes(host: string, port: number): Set<string> {
  const exact = procAddress(host, port);
  const any = procAddress('0.0.0.0', port);
  const anyV6 = `${'0'.repeat(32)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, local, , state, , , , , , inode] = fields;
      // 0A: TCP_LISTEN.
      if (state === '0A' && inode !== undefined && (local === exact || local === any || local === anyV6)) inodes.add(inode);
    }
  }
  return inodes;
}

/**
 * The processes (pid and command name) holding a socket that listens on `address`, as far as
 * this user may look into /proc (root sees all; others see their own processes only).
 */
export function listenerOwners(address: HostPort): { pid: number; name: string }[] {
  const inodes = listeningInodes(address.host, address.port);
  if (inodes.size === 0) return [];
  const owners: { pid: number; name: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        return target.startsWith('socket:[') && inodes.has(target.slice(8, -1));
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    try {
      owners.push({ pid: Number(entry), name: commandName(entry) });
    } catch {
      // The process ended meanwhile.
    }
  }
  return owners;
}

/**
 * On a control-plane node `127.0.0.1:6443` is kube-apiserver's own port: a doctor pointed there
 * would judge the local apiserver and report a healthy path that no proxy is on. Only a
 * kube-apiserver found holding the address is said; anything else (kube-local-lb, systemd holding
 * the socket for it, an owner this user may not see) says nothing.
 */
export function listenerFindings(address: HostPort, owners = listenerOwners(address)): Finding[] {
  const apiserver = owners.find((o) => o.name === 'kube-apiserver');
  if (apiserver === undefined || owners.some((o) => o.name === 'kube-local-lb')) return [];
  const where = `${address.host}:${address.port}`;
  return [{
    level: 'warn',
    text: `${where} is kube-apiserver's own port (pid ${apiserver.pid}), not kube-local-lb: what follows is the local apiserver, not the path through the proxy`,
    fix: 'pass the proxy\'s listen address, --proxy 127.0.0.1:6444 (the default), or the listen of its config.yaml',
  }];
}

/**
 * The command a process was started as: the last part of argv[0], else its thread name (`comm`,
 * which a runtime may rename: Node.js 24 calls its main thread MainThread).
 */
function commandName(pid: string): string {
  const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  const base = argv0.slice(argv0.lastIndexOf('/') + 1);
  return base !== '' ? base : readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}
