import { stringify } from 'yaml';
import { SERVER_NAME, type DemoPki } from './pki.js';

/**
 * A kubeconfig that reaches the demo's apiservers through the proxy, everything inline so that
 * the one file is enough: the cluster CA, `tls-server-name: kubernetes` (the serving certificate
 * has no 127.0.0.1, as kubeadm's have none), and the admin client certificate.
 */
export function demoKubeconfig(server: string, pki: DemoPki): string {
  const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');
  const document = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kube-local-lb-demo', cluster: {
      server,
      'certificate-authority-data': b64(pki.ca.certPem),
      'tls-server-name': SERVER_NAME,
    } }],
    users: [{ name: 'kubernetes-admin', user: {
      'client-certificate-data': b64(pki.admin.certPem),
      'client-key-data': b64(pki.admin.keyPem),
    } }],
    contexts: [{ name: 'kube-local-lb-demo', context: { cluster: 'kube-local-lb-demo', user: 'kubernetes-admin' } }],
    'current-context': 'kube-local-lb-demo',
  };
  return '# Written by `kube-local-lb demo`: the proxy in front of three local apiserver imitations.\n' +
    '# Deleted when the demo stops.\n' + stringify(document, { lineWidth: 0 });
}
