import { listInterfaces } from './address.js';
import { run } from './command.js';
import { TABLE_NAME } from './table.js';

/**
 * Which case a node is in for the ClusterIP interception: how kube-proxy (or its replacement)
 * handles Service traffic here, and whether a host firewall drops what is not allowed. Read
 * from the interfaces and the ruleset; nothing is changed.
 */

export type ProxyMode = 'iptables' | 'nftables' | 'ipvs' | 'cilium' | 'none';

export interface NodeCase {
  /** kube-proxy's modes found (iptables and nftables rules can both be present during a switch). */
  modes: ProxyMode[];
  /** The interface kube-proxy's IPVS mode holds every ClusterIP on, when present. */
  ipvsInterface: boolean;
  /** Chains on the input hook with policy drop, other than kube-local-lb's own (`table/chain`). */
  inputDropChains: string[];
}

/** A reason the interception cannot work on this node: refused at start. */
export function refusal(node: NodeCase): string | undefined {
  if (node.ipvsInterface) {
    return 'kube-proxy runs in IPVS mode here (kube-ipvs0 holds every ClusterIP and IPVS intercepts it before nftables): use --cluster-ip-link-local instead';
  }
  return undefined;
}

/** Cases where it may not work: a warning line each at start. */
export function warnings(node: NodeCase): { event: string; message: string }[] {
  const out: { event: string; message: string }[] = [];
  if (node.modes.includes('cilium')) {
    out.push({ event: 'cluster_ip_cilium', message:
      'Cilium runs here: with its kube-proxy replacement (socket-level load balancing) pods\' connections to the ClusterIP never reach netfilter and are not intercepted; use --cluster-ip-link-local' });
  }
  if (node.inputDropChains.length > 0) {
    out.push({ event: 'cluster_ip_host_firewall', message:
      `a host firewall drops input by default (${node.inputDropChains.join(', ')}): allow the ClusterIP's port, and untracked packets (ct state untracked), or pods cannot connect` });
  }
  return out;
}

export async function readNodeCase(): Promise<NodeCase> {
  const links = await listInterfaces().catch(() => []);
  const names = new Set(links.map((link) => link.ifname));
  const modes: ProxyMode[] = [];
  if (await succeeds('iptables', ['-t', 'nat', '-S', 'KUBE-SERVICES'])) modes.push('iptables');
  const ruleset = await nftRuleset();
  if (ruleset.some((item) => isTable(item, 'kube-proxy'))) modes.push('nftables');
  const ipvsInterface = names.has('kube-ipvs0');
  if (ipvsInterface) modes.push('ipvs');
  if (names.has('cilium_host')) modes.push('cilium');
  if (modes.length === 0) modes.push('none');
  const inputDropChains = ruleset.flatMap((item) => {
    const chain = item['chain'] as { table?: string; name?: string; hook?: string; policy?: string } | undefined;
    if (!chain || chain.hook !== 'input' || chain.policy !== 'drop' || chain.table === TABLE_NAME) return [];
    return [`${chain.table ?? ''}/${chain.name ?? ''}`];
  });
  return { modes, ipvsInterface, inputDropChains };
}

function isTable(item: Record<string, unknown>, name: string): boolean {
  const table = item['table'] as { name?: string } | undefined;
  return table?.name === name;
}

async function nftRuleset(): Promise<Record<string, unknown>[]> {
  try {
    const out = await run('nft', ['-j', 'list', 'ruleset']);
    return ((JSON.parse(out) as { nftables?: Record<string, unknown>[] }).nftables ?? []);
  } catch {
    return [];
  }
}

async function succeeds(file: string, args: string[]): Promise<boolean> {
  try {
    await run(file, args);
    return true;
  } catch {
    return false;
  }
}
