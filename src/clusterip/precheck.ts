import { formatHostPort } from '../config/address.js';
import { CLUSTER_IP_PORT } from '../config/cluster-ip-values.js';
import { ConfigError } from '../config/config-error.js';
import type { ClusterIpConfig } from '../config/schema.js';
import { readNodeCase, refusal } from './node-case.js';
import { missingPrivilege } from './privilege.js';

/** Whether the interception is asked for at all. */
export function interceptionWanted(config: ClusterIpConfig): boolean {
  return config.target.kind !== 'none' || config.linkLocal !== null;
}

/**
 * Refuses, before anything is changed, an interception this process or this node cannot do: a
 * missing capability, or kube-proxy's IPVS mode holding the ClusterIP. One line naming the flag
 * (exit 2, like a bad value: the operator must change the setting or the privileges).
 */
export async function precheckInterception(config: ClusterIpConfig): Promise<void> {
  if (!interceptionWanted(config)) return;
  const { target, linkLocal } = config;
  const flag = target.kind !== 'none' ? '--cluster-ip' : '--cluster-ip-link-local';
  const shown = target.kind === 'address' ? formatHostPort(target) : target.kind === 'auto' ? 'auto' : formatHostPort(linkLocal ?? { host: '', port: 0 });
  const ports = [...(target.kind === 'address' ? [target.port] : target.kind === 'auto' ? [CLUSTER_IP_PORT] : []), ...(linkLocal ? [linkLocal.port] : [])];
  const missing = missingPrivilege(ports);
  if (missing) throw new ConfigError(flag, shown, `${missing}; nothing was changed`);
  if (target.kind !== 'none') {
    const why = refusal(await readNodeCase());
    if (why) throw new ConfigError('--cluster-ip', shown, `cannot be intercepted: ${why}; nothing was changed`);
  }
}
