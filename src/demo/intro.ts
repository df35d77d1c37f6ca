import { isIPv6 } from 'node:net';
import { formatHostPort } from '../config/address.js';
import type { Demo } from './demo.js';
import { SERVER_NAME } from './pki.js';

/**
 * What the demo prints first: where everything is, and commands to paste that go through the
 * proxy. `self` is how to run this binary again (`kube-local-lb`, or `node dist/main.js`).
 */
export function introLines(demo: Demo, self: string): string[] {
  const proxy = formatHostPort(demo.proxy);
  const admin = demo.admin ? `http://${formatHostPort(demo.admin)}` : undefined;
  const { port, host } = demo.proxy;
  // curl pins the name `kubernetes` to the proxy's address, so that it verifies the name the
  // certificate holds while connecting to 127.0.0.1: what tls-server-name does for kubectl.
  const resolveTo = isIPv6(host) ? `[${host}]` : host;
  return [
    'kube-local-lb demo: three kube-apiserver imitations behind the proxy, all on this machine',
    `proxy: https://${proxy}`,
    admin ? `admin: ${admin}/backends` : 'admin: disabled',
    ...demo.apiservers.map((a, i) => `backend ${i + 1}: ${a.name} ${a.address}`),
    `kubeconfig: ${demo.workspace.kubeconfigFile}`,
    `try: kubectl --kubeconfig ${demo.workspace.kubeconfigFile} get --raw /readyz`,
    `try: kubectl --kubeconfig ${demo.workspace.kubeconfigFile} get pods`,
    `try: curl --cacert ${demo.workspace.caFile} --resolve ${SERVER_NAME}:${port}:${resolveTo} https://${SERVER_NAME}:${port}/version`,
    'try: blackhole 1 (b on a terminal): its sessions are ejected and their clients redial; new sessions sent to it before the checks notice are replayed on another',
    `try: ${self} doctor --kubeconfig ${demo.workspace.kubeconfigFile} --proxy ${proxy}${admin ? ` --admin ${admin}` : ''}`,
  ];
}
