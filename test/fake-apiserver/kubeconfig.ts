/** Options of {@link kubeconfig}. */
export interface KubeconfigOptions {
  /** `https://host:port` of the server (or of a proxy in front of it). */
  readonly server: string;
  /** PEM of the CA that signed the serving certificate (written as certificate-authority-data). */
  readonly caPem: string;
  /** `tls-server-name`: the name to verify when the URL's host is not in the SANs (e.g. 127.0.0.1). */
  readonly tlsServerName?: string;
  /** Credentials: a client certificate, a bearer token, or none (anonymous). */
  readonly user: { readonly certPem: string; readonly keyPem: string } | { readonly token: string } | Record<string, never>;
  readonly namespace?: string;
}

/**
 * A one-cluster kubeconfig as JSON text (YAML is a superset, so kubectl, client-go and
 * @kubernetes/client-node all read it), everything inline so no other file is needed.
 */
export function kubeconfig(options: KubeconfigOptions): string {
  const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  const user = 'token' in options.user
    ? { token: options.user.token }
    : 'certPem' in options.user
      ? { 'client-certificate-data': b64(options.user.certPem), 'client-key-data': b64(options.user.keyPem) }
      : {};
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{
      name: 'fake',
      cluster: {
        server: options.server,
        'certificate-authority-data': b64(options.caPem),
        ...(options.tlsServerName ? { 'tls-server-name': options.tlsServerName } : {}),
      },
    }],
    users: [{ name: 'fake-user', user }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake-user', ...(options.namespace ? { namespace: options.namespace } : {}) } }],
    'current-context': 'fake',
  }, null, 2);
}
