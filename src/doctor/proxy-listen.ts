import { isIP } from 'node:net';
import { getText } from '../admin/client.js';
import { formatHostPort } from '../config/address.js';
import type { HostPort } from '../config/schema.js';
import type { Finding } from './finding.js';

/**
 * Whether `--proxy` is an address the kube-local-lb behind the admin endpoint listens on: its
 * /metrics name every client listener (kube_local_lb_listener_sessions_total, role `listen`)
 * from the moment it is bound. When `--proxy` is none of them, whatever answers there is not
 * this proxy; on a control-plane node 127.0.0.1:6443 is kube-apiserver. Unlike the listener's
 * owner (listener-owner.ts), this needs no root. Says nothing when the admin endpoint cannot be
 * read (the backend findings report that) or `--proxy` names a host rather than an address.
 */
export async function proxyListenFindings(proxy: HostPort, adminUrl: string | undefined): Promise<Finding[]> {
  if (adminUrl === undefined || isIP(proxy.host) === 0) return [];
  let text: string;
  try {
    text = await getText(`${adminUrl.replace(/\/+$/, '')}/metrics`);
  } catch {
    return [];
  }
  const listens = [...text.matchAll(/^kube_local_lb_listener_sessions_total\{([^}]*)\}/gm)]
    .map((m) => m[1] ?? '')
    .filter((labels) => labels.includes('role="listen"'))
    .map((labels) => /listener="([^"]*)"/.exec(labels)?.[1] ?? '');
  const where = formatHostPort(proxy);
  const wildcard = isIP(proxy.host) === 6 ? `[::]:${proxy.port}` : `0.0.0.0:${proxy.port}`;
  // An activated socket the proxy could not resolve is labelled fd:N: nothing to compare.
  if (listens.length === 0 || listens.some((l) => l === where || l === wildcard || l.startsWith('fd:'))) return [];
  return [{
    level: 'warn',
    text: `kube-local-lb (admin ${adminUrl}) listens on ${listens.join(', ')}, not on ${where}: what answers there is not this proxy ` +
      '(on a control-plane node 127.0.0.1:6443 is kube-apiserver), so what follows is not the path through it',
    fix: `pass --proxy ${listens[0] ?? ''}`,
  }];
}
