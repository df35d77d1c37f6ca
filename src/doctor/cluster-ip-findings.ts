import net from 'node:net';
import { getText } from '../admin/client.js';
import { interfaceHolding } from '../clusterip/address.js';
import { readNodeCase, refusal, warnings } from '../clusterip/node-case.js';
import { readTable } from '../clusterip/table.js';
import type { Finding } from './finding.js';

/**
 * The node's case for pods (docs/pods.md): which kube-proxy mode is active, whether the
 * addresses kube-local-lb says it serves are on an interface and in its nftables table, and
 * whether a connection to each reaches kube-local-lb's listener (its session count moves) rather
 * than kube-proxy's DNAT. Reading the ruleset needs root or CAP_NET_ADMIN.
 */
export async function clusterIpFindings(adminUrl: string | undefined): Promise<Finding[]> {
  const findings: Finding[] = [];
  const node = await readNodeCase();
  const modes = node.modes.join(', ');
  findings.push({ level: 'ok', text: `Service proxy on this node: ${modes === 'none' ? 'no kube-proxy rules found' : modes}` });
  const why = refusal(node);
  for (const w of warnings(node)) findings.push({ level: 'warn', text: w.message, fix: 'docs/pods.md, "Where it cannot work"' });
  if (adminUrl === undefined) return findings;
  const metricsUrl = `${adminUrl.replace(/\/+$/, '')}/metrics`;
  let text: string;
  try {
    text = await getText(metricsUrl);
  } catch {
    return findings;
  }
  const held = [...text.matchAll(/^kube_local_lb_cluster_ip_address\{([^}]*)\} 1$/gm)].map((m) => labels(m[1] ?? ''));
  if (held.length === 0) {
    findings.push(why
      ? { level: 'ok', text: `the ClusterIP is not intercepted (and cannot be: ${why})` }
      : { level: 'ok', text: 'the ClusterIP is not intercepted (--cluster-ip is off): pods reach the apiservers through kube-proxy' });
    return findings;
  }
  let table: Awaited<ReturnType<typeof readTable>>;
  try {
    table = await readTable();
  } catch (err) {
    findings.push({ level: 'warn', text: `cannot read the nftables table inet kube_local_lb: ${err instanceof Error ? err.message : String(err)}`, fix: 'run doctor as root' });
    return findings;
  }
  for (const { address = '', interface: iface = '', role = '' } of held) {
    const [host = '', port = ''] = address.replace(/^\[|\](?=:)/g, '').split(/:(?=\d+$)/);
    const on = await interfaceHolding(host).catch(() => undefined);
    if (on !== iface) {
      findings.push({ level: 'problem', text: `${role} ${address} is not on ${iface}${on ? ` (it is on ${on})` : ''}`, fix: 'look at kube-local-lb\'s log (event cluster_ip_broken): it puts the address back every 2 s' });
      continue;
    }
    if (!table?.entries.some((e) => e.host === host && String(e.port) === port)) {
      findings.push({ level: 'problem', text: `${role} ${address} has no notrack rule in table inet kube_local_lb: kube-proxy's DNAT still takes its connections`, fix: 'look at kube-local-lb\'s log (event cluster_ip_broken)' });
      continue;
    }
    const before = sessions(text, address);
    const answered = await connects(host, Number(port));
    const after = sessions(await getText(metricsUrl).catch(() => ''), address);
    findings.push(answered && after > before
      ? { level: 'ok', text: `${role} ${address} on ${iface}, exempt from kube-proxy's DNAT, answers through kube-local-lb` }
      : { level: 'problem', text: `${role} ${address} is held but a connection to it ${answered ? 'did not reach kube-local-lb' : 'failed'}`,
        fix: 'a host firewall or another rule may take the packets first: nft list ruleset' });
  }
  return findings;
}

function labels(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

function sessions(text: string, address: string): number {
  const line = text.split('\n').find((l) => l.startsWith('kube_local_lb_listener_sessions_total{') && l.includes(`listener="${address}"`));
  return Number(line?.split(' ').pop() ?? 0);
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      // Held open until kube-local-lb has counted the session.
      setTimeout(() => {
        socket.destroy();
        resolve(true);
      }, 100);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
