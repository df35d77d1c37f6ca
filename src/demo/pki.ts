import { createCa, issueCert, type CertAndKey } from '../pki/index.js';

/**
 * The names kubeadm puts in an apiserver's serving certificate by default (wire reference §7):
 * the `kubernetes` Service names and the first service IP. No 127.0.0.1 and no localhost, so a
 * client that dials the proxy at https://127.0.0.1 must send `tls-server-name: kubernetes`:
 * the demo shows the same trap a real cluster sets.
 */
export const KUBEADM_SANS = {
  dnsNames: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
  ipAddresses: ['10.96.0.1'],
} as const;

/** The name every kubeadm serving certificate holds, used as tls-server-name throughout the demo. */
export const SERVER_NAME = 'kubernetes';

/** The demo cluster's certificates, made fresh on every start and never written outside its temp dir. */
export interface DemoPki {
  /** The cluster CA: signs the serving certificate and the admin client certificate. */
  readonly ca: CertAndKey;
  /** One serving certificate shared by the three imitations, as kubeadm's control planes share names. */
  readonly serving: CertAndKey;
  /** CN kubernetes-admin, O system:masters: the kubeconfig's user, as in kubeadm's admin.conf. */
  readonly admin: CertAndKey;
}

export function makeDemoPki(): DemoPki {
  const ca = createCa({ commonName: 'kubernetes', validDays: 365 });
  return {
    ca,
    serving: issueCert(ca, { commonName: 'kube-apiserver', ...KUBEADM_SANS, usage: 'server', validDays: 365 }),
    admin: issueCert(ca, { commonName: 'kubernetes-admin', organization: 'system:masters', usage: 'client', validDays: 365 }),
  };
}
