import { isIPv6 } from 'node:net';
import { CommandError, run } from './command.js';

/**
 * The one nftables table kube-local-lb owns. Its rules mark traffic to and from each held
 * address and port `notrack` in the raw hooks, before connection tracking: packets without a
 * conntrack entry never reach the nat hooks, so kube-proxy's DNAT (iptables or nftables mode)
 * does not see them, and they are delivered to the local listener. NodeLocal DNSCache does the
 * same for the kube-dns ClusterIP.
 *
 * The table is also the record of what this node holds: each rule's comment names the interface
 * the address is on, so that a later run can remove what a killed one left.
 */

export const TABLE_FAMILY = 'inet';
export const TABLE_NAME = 'kube_local_lb';

/** One intercepted address: `host:port` held on `iface`; `created`: kube-local-lb made that interface. */
export interface Interception {
  host: string;
  port: number;
  iface: string;
  created: boolean;
}

const COMMENT_PREFIX = 'kube-local-lb dev=';

function comment(entry: Interception): string {
  return `${COMMENT_PREFIX}${entry.iface}${entry.created ? ' created' : ''}`;
}

/** The ruleset `nft -f` loads: the table replaced as a whole, in one transaction. */
export function renderTable(entries: readonly Interception[]): string {
  const rules = (direction: 'to' | 'from') =>
    entries.map((e) => {
      const family = isIPv6(e.host) ? 'ip6' : 'ip';
      const [addr, port] = direction === 'to' ? ['daddr', 'dport'] : ['saddr', 'sport'];
      return `    ${family} ${addr} ${e.host} tcp ${port} ${e.port} notrack comment "${comment(e)}"`;
    });
  const chain = (name: string, hook: string) =>
    [`  chain ${name} {`, `    type filter hook ${hook} priority raw; policy accept;`, ...rules('to'), ...rules('from'), '  }'].join('\n');
  return [
    // Declaring then deleting makes the load work whether or not the table exists, atomically.
    `table ${TABLE_FAMILY} ${TABLE_NAME}`,
    `delete table ${TABLE_FAMILY} ${TABLE_NAME}`,
    `table ${TABLE_FAMILY} ${TABLE_NAME} {`,
    chain('prerouting', 'prerouting'),
    chain('output', 'output'),
    '}',
    '',
  ].join('\n');
}

export async function installTable(entries: readonly Interception[]): Promise<void> {
  await run('nft', ['-f', '-'], { input: renderTable(entries) });
}

/** Deletes the table; one already gone is fine. */
export async function deleteTable(): Promise<void> {
  if ((await readTable()) === undefined) return;
  await run('nft', ['delete', 'table', TABLE_FAMILY, TABLE_NAME]);
}

interface NftRule {
  chain?: string;
  comment?: string;
  expr?: unknown[];
}

/**
 * What the table on this node intercepts, read back from its rules (chain prerouting, `to`
 * rules), or undefined when there is no table.
 */
export async function readTable(): Promise<{ entries: Interception[]; rules: number } | undefined> {
  let out: string;
  try {
    out = await run('nft', ['-j', 'list', 'table', TABLE_FAMILY, TABLE_NAME]);
  } catch (err) {
    if (err instanceof CommandError && !err.missing && /No such file or directory|does not exist/i.test(err.stderr)) return undefined;
    throw err;
  }
  const items = ((JSON.parse(out) as { nftables?: Record<string, unknown>[] }).nftables ?? []);
  const rules = items.flatMap((item) => (item['rule'] ? [item['rule'] as NftRule] : []));
  const entries: Interception[] = [];
  for (const rule of rules) {
    if (rule.chain !== 'prerouting' || !rule.comment?.startsWith(COMMENT_PREFIX)) continue;
    const [iface = '', created] = rule.comment.slice(COMMENT_PREFIX.length).split(' ');
    const text = JSON.stringify(rule.expr ?? []);
    const host = /"field":"daddr"}},"right":"([^"]+)"/.exec(text)?.[1];
    const port = /"field":"dport"}},"right":(\d+)/.exec(text)?.[1];
    if (host && port) entries.push({ host, port: Number(port), iface, created: created === 'created' });
  }
  return { entries, rules: rules.length };
}

/** Whether the table holds exactly the rules `entries` need (four per address: two hooks, two directions). */
export async function tableIntact(entries: readonly Interception[]): Promise<boolean> {
  const table = await readTable();
  if (!table) return false;
  const key = (e: Interception) => `${e.host}:${e.port}`;
  const found = new Set(table.entries.map(key));
  return table.rules === entries.length * 4 && entries.every((e) => found.has(key(e)));
}
