/**
 * A small X.509 issuer on node:crypto alone: a self-signed CA and the certificates it signs
 * (serving, client, or both), for the `demo` command and the tests. No openssl, no packages.
 */
export { createCa, issueCert, type CaOptions, type CertAndKey, type CertOptions, type CertUsage } from './x509.js';
export { ipToBytes } from './ip-bytes.js';
