import { randomBytes } from 'node:crypto';
import { createCa, issueCert, type CertAndKey } from '../../src/pki/index.js';
import type { User } from './auth.js';

/** Subject alternative names of a serving certificate. */
export interface Sans {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/**
 * What kubeadm's apiserver certificate holds by default (reference §7): the `kubernetes`
 * names and the first service IP, and no 127.0.0.1. A client that dials 127.0.0.1 must send
 * `tls-server-name: kubernetes` to verify it.
 */
export const KUBEADM_SANS: Sans = {
  dnsNames: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
  ipAddresses: ['10.96.0.1'],
};

/** A cluster's certificates and tokens, ready for {@link startFakeApiserver} and kubeconfigs. */
export interface ClusterPki {
  /** The cluster CA: signs the serving certificate and the client certificates. */
  readonly ca: CertAndKey;
  /** The apiserver's serving certificate (server auth only). */
  readonly serving: CertAndKey;
  readonly sans: Sans;
  /** CN kubernetes-admin, O system:masters (kubeadm's admin.conf). */
  readonly admin: CertAndKey;
  /** CN system:node:<nodeName>, O system:nodes (a kubelet client certificate). */
  readonly node: CertAndKey;
  /** CN kube-local-lb, no groups: an authenticated user with only the default roles. */
  readonly probe: CertAndKey;
  /** A bearer token for a system:masters user. */
  readonly adminToken: string;
  /** A bearer token for an authenticated user with no groups (only the default roles). */
  readonly userToken: string;
  /** A bearer token for the user `kube-local-lb` (as the probe certificate), no groups: the user docs/discovery.md binds. */
  readonly probeToken: string;
  /** Token -> identity, for the server's `tokens` option. */
  readonly tokens: ReadonlyMap<string, User>;
  /** The server's `tls` option: serving cert and key, and the CA that verifies client certificates. */
  readonly tls: { readonly certPem: string; readonly keyPem: string; readonly clientCaPem: string };
}

/** Options of {@link makeClusterPki}. */
export interface ClusterPkiOptions {
  /** Replace the serving SANs (default {@link KUBEADM_SANS}). */
  readonly sans?: Partial<Sans>;
  /** Added to the SANs, e.g. the node name and advertise address. */
  readonly extraSans?: Partial<Sans>;
  readonly nodeName?: string;
}

/** Makes a CA, a kubeadm-like serving certificate, client certificates and tokens. */
export function makeClusterPki(options: ClusterPkiOptions = {}): ClusterPki {
  const sans: Sans = {
    dnsNames: [...(options.sans?.dnsNames ?? KUBEADM_SANS.dnsNames), ...(options.extraSans?.dnsNames ?? [])],
    ipAddresses: [...(options.sans?.ipAddresses ?? KUBEADM_SANS.ipAddresses), ...(options.extraSans?.ipAddresses ?? [])],
  };
  const ca = createCa({ commonName: 'kubernetes', validDays: 3650 });
  const serving = issueCert(ca, { commonName: 'kube-apiserver', ...sans, usage: 'server', validDays: 365 });
  const nodeName = options.nodeName ?? 'node-1';
  const admin = issueCert(ca, { commonName: 'kubernetes-admin', organization: 'system:masters', usage: 'client', validDays: 365 });
  const node = issueCert(ca, { commonName: `system:node:${nodeName}`, organization: 'system:nodes', usage: 'client', validDays: 365 });
  const probe = issueCert(ca, { commonName: 'kube-local-lb', usage: 'client', validDays: 365 });
  const adminToken = randomBytes(16).toString('hex');
  const userToken = randomBytes(16).toString('hex');
  const probeToken = randomBytes(16).toString('hex');
  const tokens = new Map<string, User>([
    [adminToken, { name: 'admin-token-user', groups: ['system:masters'] }],
    [userToken, { name: 'plain-token-user', groups: [] }],
    [probeToken, { name: 'kube-local-lb', groups: [] }],
  ]);
  return {
    ca, serving, sans, admin, node, probe, adminToken, userToken, probeToken, tokens,
    tls: { certPem: serving.certPem, keyPem: serving.keyPem, clientCaPem: ca.certPem },
  };
}
