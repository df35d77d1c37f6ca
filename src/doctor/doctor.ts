import type { HostPort } from '../config/schema.js';
import type { ClientView } from '../kubeconfig/client.js';
import { backendFindings } from './backend-findings.js';
import { clientFindings } from './client-findings.js';
import { clusterIpFindings } from './cluster-ip-findings.js';
import type { Finding } from './finding.js';
import { listenerFindings } from './listener-owner.js';
import { proxyListenFindings } from './proxy-listen.js';

export interface DoctorOptions {
  /** The proxy's listen address. */
  proxy: HostPort;
  /** The kubeconfig of a client to judge, already read; undefined: only the served certificate. */
  client: ClientView | undefined;
  /** The admin endpoint's base URL; undefined: backends are not looked at. */
  adminUrl: string | undefined;
  now: number;
}

/**
 * Everything the doctor looks at, in the order a person would: what a client meets through the
 * proxy (certificate, name, credential), then what the proxy knows of the backends. The two
 * parts do not depend on each other and run at once.
 */
export async function examine(options: DoctorOptions): Promise<Finding[]> {
  const [client, backends, pods, listens] = await Promise.all([
    clientFindings(options.proxy, options.client, options.now),
    options.adminUrl === undefined ? Promise.resolve([]) : backendFindings(options.adminUrl),
    clusterIpFindings(options.adminUrl),
    proxyListenFindings(options.proxy, options.adminUrl),
  ]);
  // Whether --proxy is the proxy at all comes first: a kube-apiserver found holding it says the
  // most; else the proxy's own listen addresses, readable without root.
  const owner = listenerFindings(options.proxy);
  return [...(owner.length > 0 ? owner : listens), ...client, ...backends, ...pods];
}
